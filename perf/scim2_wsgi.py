"""scim2-server's WSGI application, built as its `scim2-server` CLI builds it, for gunicorn.

perf/run.sh serves it with
    SCIM2_BENCH_TOKEN=... target/bench/venv/bin/gunicorn --chdir perf scim2_wsgi:app \
        --workers 1 --threads 4 --bind 127.0.0.1:PORT
One worker: the storage is in the worker's memory, so more workers would not share users.
The CLI (scim2_server/testserver/cli.py) serves the same application through wsgiref.
"""

import os

from scim2_models import ScimProvider
from scim2_server.memory import InMemoryStorage
from scim2_server.service import ScimService
from scim2_server.testserver.application import BEARER_TOKEN_SCHEME
from scim2_server.testserver.application import BearerTokenApplication
from scim2_server.utils import load_default_resource_types
from scim2_server.utils import load_default_schemas
from scim2_server.utils import load_default_service_provider_config

_config = load_default_service_provider_config()
_config.authentication_schemes = [*(_config.authentication_schemes or []), BEARER_TOKEN_SCHEME]
_provider = ScimProvider.from_discovery(
    load_default_schemas().values(), load_default_resource_types().values(), config=_config
)
app = BearerTokenApplication(
    InMemoryStorage(),
    _provider,
    service=ScimService(_provider, secret=os.urandom(32).hex()),
    bearer_tokens=[os.environ["SCIM2_BENCH_TOKEN"]],
)
