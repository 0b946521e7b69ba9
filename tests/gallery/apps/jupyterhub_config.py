# JupyterHub's configuration for tests/gallery/run.sh jupyterhub: the hub's REST API on
# 127.0.0.1, no proxy, no login, and two API clients (services): the sidecar, with the scopes
# config/gallery/jupyterhub/README.md asks for, and the story's own admin, to check every step.
import os

from jupyterhub.proxy import Proxy


class NoProxy(Proxy):
    """No public proxy: the story only talks to the hub's API, on the hub's own port."""

    should_start = False

    async def add_route(self, routespec, target, data):
        pass

    async def delete_route(self, routespec):
        pass

    async def get_all_routes(self):
        return {}


work = os.environ["JH_WORK"]
c = get_config()  # noqa: F821 (JupyterHub's config loader defines it)
c.JupyterHub.proxy_class = NoProxy
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ["JH_PORT"])
c.JupyterHub.db_url = f"sqlite:///{work}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = f"{work}/jupyterhub_cookie_secret"
c.JupyterHub.pid_file = f"{work}/jupyterhub.pid"
# Nobody logs in here; in production an OAuthenticator (Entra ID) does, and the users the sidecar
# provisions are the allowed ones.
c.JupyterHub.authenticator_class = "null"
c.Authenticator.allow_existing_users = True
c.JupyterHub.services = [
    {"name": "scim-sidecar", "api_token": os.environ["JUPYTERHUB_SCIM_TOKEN"]},
    {"name": "gallery-check", "api_token": os.environ["JH_ADMIN_TOKEN"]},
]
c.JupyterHub.load_roles = [
    {
        "name": "scim-provisioner",
        "scopes": ["admin:users", "admin:groups"],
        "services": ["scim-sidecar"],
    },
    {"name": "admin", "services": ["gallery-check"]},
]
