"""The OpenAPI document and Swagger UI, public so clients can generate bindings."""

from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView


class SchemaView(SpectacularAPIView):
    public_methods = {"GET"}


class SwaggerView(SpectacularSwaggerView):
    public_methods = {"GET"}
