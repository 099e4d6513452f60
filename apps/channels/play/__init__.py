"""Playing a channel: its own stream job plays the playout rows as continuous HLS."""
