"""Live streams: ingest keys, publish sessions, the HLS ladder and viewer counts.

A live stream is what a publisher (OBS, ffmpeg) points at and viewers watch. Its
transcode runs on the stream-job engine: each live stream owns one StreamJob
(`LiveStream.job`) whose input is the local ingest and whose outputs are the
restream targets; the HLS ladder and the recording are added from the live
stream's own settings when the job's spec is built.
"""
