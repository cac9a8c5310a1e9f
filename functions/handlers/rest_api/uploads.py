"""Route of uploads: a presigned PUT for a first frame too large for a data URI."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from handlers.rest_api import request_context
from handlers.rest_api.errors import JSON
from handlers.rest_api.openapi import responses, secured
from videohook.models import CreateUploadRequest, UploadView
from videohook.runtime import get_runtime

router = Router()


@router.post(
    "/v1/uploads",
    **secured(
        "Upload a large image",
        responses(201, UploadView, "Created: where to PUT the image", 400, 413, 415),
        operation_id="createUpload",
        description=(
            "For first frames too large for a data URI: PUT the image to `upload_url` with `headers`, "
            'then create the job with `"image": {"upload_id": ...}`. Uploads expire after a day.'
        ),
        tag="uploads",
    ),
)
def create_upload(request: CreateUploadRequest) -> Response[UploadView]:
    from videohook import uploads  # for cold start: botocore comes with it

    upload = uploads.create_upload(get_runtime(), request, tenant_id=request_context.tenant_id())
    return Response(status_code=201, content_type=JSON, body=upload)
