#!/usr/bin/env python3
# tests/gallery/story.py APP: Entra ID's provisioning story, sent to a running scim-sidecar, with
# every step checked through the app's own API (never through the sidecar). Run by
# tests/gallery/run.sh, which starts the app and the sidecar and sets the environment:
#   SCIM_URL, SCIM_SIDECAR_TOKEN, SCIM_CA   the sidecar (HTTPS, its generated certificate)
#   SIDECAR_ADMIN                           the sidecar's admin listener (/metrics)
#   and the app's own variables (KC_URL, KC_REALM, KC_ADMIN_PASSWORD, KC_TOKEN_LIFESPAN; JH_URL,
#   JH_ADMIN_TOKEN).
# Python standard library only. Prints one line per check and "N passed, M failed"; exits 1 on
# any failure. Secrets are never printed.
import json
import os
import re
import secrets
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

TIMEOUT = 30  # seconds, every HTTP call
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def http(method, url, body=None, headers=None, context=None, form=None):
    """One call: (status, parsed JSON or None, headers). Never raises for an HTTP status."""
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        hdrs["Content-Type"] = "application/x-www-form-urlencoded"
    req = urllib.request.Request(url, data=data, headers=hdrs, method=method)
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT, context=context) as r:
            status, raw, rh = r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        status, raw, rh = e.code, e.read(), e.headers
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    return status, parsed, rh


class Scim:
    """The sidecar, as Entra ID calls it."""

    def __init__(self):
        self.base = os.environ["SCIM_URL"]
        self.token = os.environ["SCIM_SIDECAR_TOKEN"]
        self.ctx = ssl.create_default_context(cafile=os.environ["SCIM_CA"])

    def call(self, method, path, body=None):
        headers = {"Authorization": f"Bearer {self.token}"}
        if body is not None:
            headers["Content-Type"] = "application/scim+json; charset=utf-8"
        return http(method, self.base + path, body, headers, self.ctx)[:2]

    def filter(self, resource, expr, extra=""):
        q = extra + "filter=" + urllib.parse.quote_plus(expr)
        return self.call("GET", f"/{resource}?{q}")


class Keycloak:
    """Keycloak's own admin API, with the master realm's admin (not the sidecar's client)."""

    CAPS = {"case_kept", "email", "names", "externalId", "department", "rename_user", "disable",
            "rename_group", "group_externalId"}
    # The user fields the mapping writes; everything else must survive the sidecar's writes.
    USER_FIELDS = {"username", "email", "firstName", "lastName", "enabled"}
    USER_ATTRIBUTES = {"display_login", "externalId", "department"}
    GROUP_ATTRIBUTES = {"externalId"}

    def __init__(self):
        self.url = os.environ["KC_URL"]
        self.realm = os.environ["KC_REALM"]
        self.password = os.environ["KC_ADMIN_PASSWORD"]
        self.token_lifespan = int(os.environ["KC_TOKEN_LIFESPAN"])
        self._token, self._at = None, 0.0

    def token(self):
        # The admin token lives 60 s: take a new one every 30 s.
        if self._token is None or time.monotonic() - self._at > 30:
            status, body, _ = http(
                "POST",
                f"{self.url}/realms/master/protocol/openid-connect/token",
                form={"grant_type": "password", "client_id": "admin-cli", "username": "admin",
                      "password": self.password},
            )
            if status != 200:
                raise RuntimeError(f"Keycloak admin token: HTTP {status}")
            self._token, self._at = body["access_token"], time.monotonic()
        return self._token

    def call(self, method, path, body=None):
        status, parsed, _ = http(method, f"{self.url}/admin/realms/{self.realm}{path}", body,
                                 {"Authorization": f"Bearer {self.token()}"})
        return status, parsed

    def user(self, uid):
        status, body = self.call("GET", f"/users/{q(uid)}")
        return body if status == 200 else None

    def group(self, gid):
        status, body = self.call("GET", f"/groups/{q(gid)}")
        return body if status == 200 else None

    def members(self, gid):
        status, body = self.call("GET", f"/groups/{q(gid)}/members?first=0&max=100&briefRepresentation=true")
        return {m["id"] for m in body} if status == 200 else None

    def uview(self, u):
        return {"login": u.get("username"), "userName": attr(u, "display_login"), "email": u.get("email"),
                "given": u.get("firstName"), "family": u.get("lastName"), "enabled": u.get("enabled"),
                "externalId": attr(u, "externalId"), "department": attr(u, "department")}

    def gview(self, g):
        return {"name": g.get("name"), "externalId": attr(g, "externalId")}

    def add_unmapped_user_fields(self, uid):
        """What an admin or another integration sets on the user, outside the mapping."""
        u = self.user(uid)
        u["emailVerified"] = True
        u["requiredActions"] = ["CONFIGURE_TOTP"]
        u.setdefault("attributes", {})["badge"] = ["B-7", "B-8"]
        return self.call("PUT", f"/users/{q(uid)}", u)[0] == 204

    def add_unmapped_group_fields(self, gid):
        g = self.group(gid)
        g.setdefault("attributes", {})["owner"] = ["platform-team"]
        return self.call("PUT", f"/groups/{q(gid)}", g)[0] == 204

    @classmethod
    def user_unmapped(cls, u):
        """The user's fields the mapping does not cover."""
        out = {k: v for k, v in u.items() if k not in cls.USER_FIELDS and k != "attributes"}
        out["attributes"] = {k: v for k, v in (u.get("attributes") or {}).items()
                             if k not in cls.USER_ATTRIBUTES}
        return out

    @classmethod
    def group_unmapped(cls, g):
        out = {k: v for k, v in g.items() if k not in {"name", "path", "attributes"}}
        out["attributes"] = {k: v for k, v in (g.get("attributes") or {}).items()
                             if k not in cls.GROUP_ATTRIBUTES}
        return out


class JupyterHub:
    """The hub's own REST API, with an admin service's token (not the sidecar's)."""

    # A name is all a hub user has; deactivation deletes; groups cannot be renamed.
    CAPS = {"disable_deletes"}
    token_lifespan = None  # a service's API token does not expire

    def __init__(self):
        self.url = os.environ["JH_URL"] + "/hub/api"
        self.token = os.environ["JH_ADMIN_TOKEN"]

    def call(self, method, path, body=None):
        status, parsed, _ = http(method, self.url + path, body, {"Authorization": f"Bearer {self.token}"})
        return status, parsed

    def user(self, uid):
        status, body = self.call("GET", f"/users/{q(uid)}")
        return body if status == 200 else None

    def group(self, gid):
        status, body = self.call("GET", f"/groups/{q(gid)}")
        return body if status == 200 else None

    def members(self, gid):
        g = self.group(gid)
        return set(g["users"]) if g is not None else None

    def uview(self, u):
        return {"login": u.get("name")}

    def gview(self, g):
        return {"name": g.get("name")}

    def add_unmapped_user_fields(self, uid):
        """What a hub admin sets on the user, outside the mapping: admin rights."""
        return self.call("PATCH", f"/users/{q(uid)}", {"admin": True})[0] == 200

    def add_unmapped_group_fields(self, gid):
        return self.call("PUT", f"/groups/{q(gid)}/properties", {"owner": "platform-team"})[0] == 200

    @staticmethod
    def user_unmapped(u):
        # groups change with the membership steps; last_activity with logins.
        return {k: v for k, v in u.items() if k not in {"name", "groups", "last_activity"}}

    @staticmethod
    def group_unmapped(g):
        return {k: v for k, v in g.items() if k not in {"name", "users"}}


def q(value):
    """One path segment."""
    return urllib.parse.quote(value, safe="")


def attr(obj, name):
    """The first value of a Keycloak custom attribute."""
    vals = (obj.get("attributes") or {}).get(name) or [None]
    return vals[0]


class Story:
    def __init__(self, app):
        self.scim = Scim()
        self.app = app
        self.passed = 0
        self.failed = 0
        self.skipped = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"  ok    {name}")
        else:
            self.failed += 1
            print(f"  FAIL  {name}" + (f": {detail}" if detail else ""))
        return ok

    def step(self, title):
        print(f"- {title}")

    def token_fetches(self):
        status, text, _ = http("GET", os.environ["SIDECAR_ADMIN"] + "/metrics")
        counts = {}
        for m in re.finditer(r'^scim_sidecar_platform_token_fetches_total\{outcome="(\w+)"\} (\d+)',
                             text if isinstance(text, str) else "", re.M):
            counts[m.group(1)] = int(m.group(2))
        return counts

    def skip(self, name, why):
        self.skipped += 1
        print(f"  skip  {name}: {why}")

    def unchanged(self, name, read, before, unmapped):
        """Fields the mapping does not cover are as they were."""
        obj = read()
        after = unmapped(obj) if obj is not None else None
        return self.check(name, after == before, f"before {before} after {after}")

    def run(self):
        s, app = self.scim, self.app
        can = app.CAPS.__contains__
        name = type(app).__name__
        tag = secrets.token_hex(4)
        upn = f"Ada.Lovelace.{tag}@Example.com"
        mail = f"ADA.LOVELACE.{tag}@EXAMPLE.COM"
        kept = (lambda v: v) if can("case_kept") else str.lower  # the userName read back
        started = time.monotonic()

        self.step("Test Connection: a random user and a random group, 200 and empty")
        st, body = s.filter("Users", f'userName eq "{secrets.token_hex(16)}"')
        self.check("GET /Users?filter=userName eq <random> → 200, empty",
                   st == 200 and body.get("totalResults") == 0 and body.get("Resources", []) == [],
                   f"{st} {body}")
        st, body = s.filter("Groups", f'displayName eq "{secrets.token_hex(16)}"', "excludedAttributes=members&")
        self.check("GET /Groups?excludedAttributes=members&filter=displayName eq <random> → 200, empty",
                   st == 200 and body.get("totalResults") == 0, f"{st} {body}")

        def create_ada():
            return s.call("POST", "/Users", {
                "schemas": [USER, ENTERPRISE],
                "externalId": f"ada{tag}",
                "userName": upn,
                "active": True,
                "emails": [{"primary": True, "type": "work", "value": mail}],
                "meta": {"resourceType": "User"},
                "name": {"formatted": "Ada Lovelace", "familyName": "Lovelace", "givenName": "Ada"},
                "title": "Countess",  # unmapped: dropped with a warning, the create goes through
                "roles": [],
                ENTERPRISE: {"department": "Analytical Engines"},
            })

        self.step(f"create a user as Entra does (userName {upn}, e-mail {mail})")
        st, ada = create_ada()
        if not self.check("POST /Users → 201 with an id", st == 201 and isinstance(ada, dict) and ada.get("id"),
                          f"{st} {ada}"):
            return
        uid = ada["id"]
        self.check("the answer: userName " + ("as sent" if can("case_kept") else f"as {name} keeps it (lowercase)")
                   + ", active", ada.get("userName") == kept(upn) and ada.get("active") is True, json.dumps(ada))
        if can("email"):
            self.check("the answer: the e-mail lowercase", ada.get("emails", [{}])[0].get("value") == mail.lower(),
                       json.dumps(ada))
        v = app.uview(app.user(uid) or {})
        self.check(f"{name} holds it: its login is the userName, lowercase", v.get("login") == upn.lower(), str(v))
        if can("case_kept"):
            self.check(f"{name} keeps the userName as sent", v.get("userName") == upn, str(v))
        if can("email"):
            self.check(f"{name} holds the e-mail, lowercase", v.get("email") == mail.lower(), str(v))
        if can("names"):
            self.check(f"{name} holds the names", (v.get("given"), v.get("family")) == ("Ada", "Lovelace"), str(v))
        if can("disable"):
            self.check(f"{name}: enabled", v.get("enabled") is True, str(v))
        if can("externalId") and can("department"):
            self.check(f"{name} holds externalId and department",
                       (v.get("externalId"), v.get("department")) == (f"ada{tag}", "Analytical Engines"), str(v))
        if not can("names"):
            self.skip("names, e-mail, externalId, department", f"{name} has no place for them (dropped with a warning)")

        self.check(f"an admin sets fields the mapping does not cover, through {name}'s API",
                   app.add_unmapped_user_fields(uid))
        before = app.user_unmapped(app.user(uid))

        self.step("match, as Entra does before creating")
        st, body = s.filter("Users", f'userName eq "{upn.upper()}"')
        self.check("userName eq <UPN in upper case> → the user",
                   st == 200 and body.get("totalResults") == 1 and body["Resources"][0]["id"] == uid
                   and body["Resources"][0]["userName"] == kept(upn), f"{st} {body}")
        if can("email"):
            st, body = s.filter("Users", f'emails[type eq "work"].value eq "{mail}"')
            self.check('emails[type eq "work"].value eq <e-mail> → the user',
                       st == 200 and [r["id"] for r in body.get("Resources", [])] == [uid], f"{st} {body}")
        if can("externalId"):
            st, body = s.filter("Users", f'externalId eq "ada{tag}"')
            self.check("externalId eq → the user",
                       st == 200 and [r["id"] for r in body.get("Resources", [])] == [uid], f"{st} {body}")
        st, body = s.call("GET", f"/Users/{q(uid)}")
        self.check("GET /Users/{id} → 200", st == 200 and body.get("id") == uid, f"{st} {body}")

        self.step("update names, Entra's default dialect (one capitalised Replace per attribute)")
        st, body = s.call("PATCH", f"/Users/{q(uid)}", {"schemas": [PATCH_OP], "Operations": [
            {"op": "Replace", "path": "name.givenName", "value": "Augusta Ada"},
            {"op": "Replace", "path": "name.familyName", "value": "King"},
        ]})
        self.check("PATCH names → 200", st == 200, f"{st} {body}")
        v = app.uview(app.user(uid) or {})
        if can("names"):
            self.check(f"{name} has the new names, the rest as it was",
                       (v.get("given"), v.get("family"), v.get("enabled"), v.get("email"))
                       == ("Augusta Ada", "King", True, mail.lower()), str(v))
        else:
            self.check(f"{name}'s user is unchanged (it cannot store names)", v.get("login") == upn.lower(), str(v))
        self.unchanged("nothing lost: fields the mapping does not cover unchanged", lambda: app.user(uid), before,
                       app.user_unmapped)

        if can("rename_user"):
            upn2 = f"Ada.King.{tag}@Example.com"
            st, body = s.call("PATCH", f"/Users/{q(uid)}", {"schemas": [PATCH_OP], "Operations": [
                {"op": "Replace", "path": "userName", "value": upn2}]})
            self.check("PATCH userName (the UPN changed in Entra) → 200", st == 200, f"{st} {body}")
            v = app.uview(app.user(uid) or {})
            self.check(f"{name}'s login is renamed, the userName as sent kept",
                       (v.get("login"), v.get("userName")) == (upn2.lower(), upn2), str(v))
            self.unchanged("nothing lost after the rename", lambda: app.user(uid), before, app.user_unmapped)
            st, body = s.filter("Users", f'userName eq "{upn2.lower()}"')
            self.check("userName eq <new UPN> → the user", st == 200 and body.get("totalResults") == 1,
                       f"{st} {body}")
        else:
            upn2 = upn
            st, body = s.call("PATCH", f"/Users/{q(uid)}", {"schemas": [PATCH_OP], "Operations": [
                {"op": "Replace", "path": "userName", "value": f"Ada.King.{tag}@Example.com"}]})
            self.check(f"PATCH userName → 400 (the name is {name}'s id: a rename would change the id Entra keeps)",
                       st == 400, f"{st} {body}")
            self.check(f"{name}: the user is unchanged", app.uview(app.user(uid) or {}).get("login") == upn.lower())

        fetches = self.token_fetches()
        if app.token_lifespan:
            # The sidecar's token must expire now: the next calls need a new one.
            wait = max(0.0, app.token_lifespan + 3 - (time.monotonic() - started))
            self.step(f"read the user every 0.5 s for {wait:.0f} s, past the {app.token_lifespan} s lifetime of "
                      "the sidecar's token")
            reads, bad = 0, []
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                st, body = s.call("GET", f"/Users/{q(uid)}")
                reads += 1
                if st != 200:
                    bad.append(st)
                time.sleep(0.5)
            self.check(f"{reads} reads across the token's expiry, all 200", reads > 0 and not bad, f"failed: {bad}")
        else:
            self.skip("reads across a token expiry", f"{name}'s API token does not expire")

        self.step('disable with Entra\'s string "False", then re-enable with "True"')
        st, body = s.call("PATCH", f"/Users/{q(uid)}", {"schemas": [PATCH_OP], "Operations": [
            {"op": "Replace", "path": "active", "value": "False"}]})
        if can("disable"):
            self.check('PATCH active "False" → 200, active false', st == 200 and body.get("active") is False,
                       f"{st} {body}")
            self.check(f"{name}: enabled false", app.uview(app.user(uid) or {}).get("enabled") is False)
            self.unchanged("nothing lost after disabling", lambda: app.user(uid), before, app.user_unmapped)
            if app.token_lifespan:
                after = self.token_fetches()
                self.check("the sidecar fetched a new token after the expiry, none failed",
                           after.get("success", 0) > fetches.get("success", 0)
                           and sum(v for k, v in after.items() if k != "success") == 0,
                           f"before {fetches} after {after}")
            st, body = s.call("PATCH", f"/Users/{q(uid)}", {"schemas": [PATCH_OP], "Operations": [
                {"op": "Replace", "path": "active", "value": "True"}]})
            self.check('PATCH active "True" → 200, active true', st == 200 and body.get("active") is True,
                       f"{st} {body}")
            self.check(f"{name}: enabled true", app.uview(app.user(uid) or {}).get("enabled") is True)
            self.unchanged("nothing lost after re-enabling", lambda: app.user(uid), before, app.user_unmapped)
        else:
            self.check('PATCH active "False" → 2xx', st in (200, 204), f"{st} {body}")
            self.check(f"{name}: the user is deleted (it has no disabled state)", app.user(uid) is None)
            st, body = s.call("PATCH", f"/Users/{q(uid)}", {"schemas": [PATCH_OP], "Operations": [
                {"op": "Replace", "path": "active", "value": "True"}]})
            self.check('PATCH active "True" (re-assigned) → 404: the user is gone', st == 404, f"{st} {body}")
            st, body = s.filter("Users", f'userName eq "{upn}"')
            self.check("after a restart of provisioning, Entra's match finds nothing",
                       st == 200 and body.get("totalResults") == 0, f"{st} {body}")
            st, ada = create_ada()
            self.check("re-assigned, the user is created again → 201, the same id",
                       st == 201 and isinstance(ada, dict) and ada.get("id") == uid, f"{st} {ada}")
            self.check(f"{name}: the user exists again", app.user(uid) is not None)
            self.skip("nothing lost over a disable", f"{name} has no disabled state: what the deleted user held "
                      "outside the mapping went with it")
            app.add_unmapped_user_fields(uid)
            before = app.user_unmapped(app.user(uid))

        self.step("a second user, then a group with both as members")
        st, bob = s.call("POST", "/Users", {
            "schemas": [USER], "userName": f"Bob.Babbage.{tag}@Example.com", "active": True,
            "emails": [{"primary": True, "type": "work", "value": f"Bob.Babbage.{tag}@Example.com"}],
            "name": {"givenName": "Bob", "familyName": "Babbage"}})
        self.check("POST /Users (second user) → 201", st == 201, f"{st} {bob}")
        bid = bob.get("id") if isinstance(bob, dict) else None

        gname = f"Engineers {tag}"
        st, grp = s.call("POST", "/Groups", {
            "schemas": [GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "externalId": f"obj-{tag}", "displayName": gname, "meta": {"resourceType": "Group"}})
        if not self.check("POST /Groups → 201 with an id", st == 201 and isinstance(grp, dict) and grp.get("id"),
                          f"{st} {grp}"):
            return
        gid = grp["id"]
        gv = app.gview(app.group(gid) or {})
        self.check(f"{name} holds the group", gv.get("name") == gname, str(gv))
        if can("group_externalId"):
            self.check(f"{name} holds the group's externalId", gv.get("externalId") == f"obj-{tag}", str(gv))
        else:
            self.skip("the group's externalId", f"{name} cannot set it when the group is created")
        self.check(f"an admin adds a group field the mapping does not cover, through {name}'s API",
                   app.add_unmapped_group_fields(gid))
        gbefore = app.group_unmapped(app.group(gid))
        st, body = s.filter("Groups", f'displayName eq "{gname.lower()}"', "excludedAttributes=members&")
        self.check("displayName eq <name in lower case> → the group, without members",
                   st == 200 and [r["id"] for r in body.get("Resources", [])] == [gid]
                   and "members" not in body["Resources"][0], f"{st} {body}")

        st, body = s.call("PATCH", f"/Groups/{q(gid)}", {"schemas": [PATCH_OP], "Operations": [
            {"op": "Add", "path": "members", "value": [{"$ref": None, "value": uid}, {"$ref": None, "value": bid}]}]})
        self.check("PATCH Add members (two in one op) → 204", st == 204, f"{st} {body}")
        self.check(f"{name}: both are members", app.members(gid) == {uid, bid}, str(app.members(gid)))
        st, body = s.call("GET", f"/Groups/{q(gid)}")
        self.check("GET /Groups/{id} lists both members",
                   st == 200 and {m["value"] for m in body.get("members", [])} == {uid, bid}, f"{st} {body}")

        st, body = s.call("PATCH", f"/Groups/{q(gid)}", {"schemas": [PATCH_OP], "Operations": [
            {"op": "Remove", "path": "members", "value": [{"value": uid}]}]})
        self.check("PATCH Remove members by value (Entra's default shape) → 204", st == 204, f"{st} {body}")
        self.check(f"{name}: only the second user is left", app.members(gid) == {bid}, str(app.members(gid)))
        st, body = s.call("PATCH", f"/Groups/{q(gid)}", {"schemas": [PATCH_OP], "Operations": [
            {"op": "Remove", "path": "members", "value": [{"value": uid}]}]})
        self.check("removing a non-member again → 204 (idempotent)", st == 204, f"{st} {body}")
        st, body = s.call("PATCH", f"/Groups/{q(gid)}", {"schemas": [PATCH_OP], "Operations": [
            {"op": "remove", "path": f'members[value eq "{bid}"]'}]})
        self.check("PATCH remove members[value eq ...] (the aadOptscim062020 shape) → 204", st == 204,
                   f"{st} {body}")
        self.check(f"{name}: no members left", app.members(gid) == set(), str(app.members(gid)))
        self.unchanged("membership changes lost nothing on the user", lambda: app.user(uid), before,
                       app.user_unmapped)

        self.step("rename the group")
        gname2 = f"Engineering {tag}"
        st, body = s.call("PATCH", f"/Groups/{q(gid)}", {"schemas": [PATCH_OP], "Operations": [
            {"op": "Replace", "path": "displayName", "value": gname2}]})
        if can("rename_group"):
            self.check("PATCH Replace displayName → 204", st == 204, f"{st} {body}")
            gv = app.gview(app.group(gid) or {})
            self.check(f"{name}: renamed, externalId kept", gv == {"name": gname2, "externalId": f"obj-{tag}"},
                       str(gv))
        else:
            gname2 = gname
            self.check(f"PATCH Replace displayName → 400 ({name} cannot rename a group)", st == 400, f"{st} {body}")
            self.check(f"{name}: the group is unchanged", app.gview(app.group(gid) or {}).get("name") == gname)
        self.unchanged("nothing lost on the group", lambda: app.group(gid), gbefore, app.group_unmapped)

        self.step("duplicates")
        st, body = s.call("POST", "/Users", {"schemas": [USER], "userName": upn2.upper(), "active": True})
        self.check("POST /Users with a taken userName → 409 uniqueness",
                   st == 409 and body.get("scimType") == "uniqueness", f"{st} {body}")
        if can("email"):
            st, body = s.call("POST", "/Users", {
                "schemas": [USER], "userName": f"other.{tag}@example.com", "active": True,
                "emails": [{"type": "work", "primary": True, "value": mail}]})
            self.check("POST /Users with a taken e-mail → 409 uniqueness",
                       st == 409 and body.get("scimType") == "uniqueness", f"{st} {body}")
        st, body = s.call("POST", "/Groups", {"schemas": [GROUP], "displayName": gname2})
        self.check("POST /Groups with a taken displayName → 409 uniqueness",
                   st == 409 and body.get("scimType") == "uniqueness", f"{st} {body}")

        self.step("delete")
        for label, path, read in (("user", f"/Users/{q(uid)}", lambda: app.user(uid)),
                                  ("second user", f"/Users/{q(bid)}", lambda: app.user(bid)),
                                  ("group", f"/Groups/{q(gid)}", lambda: app.group(gid))):
            st, body = s.call("DELETE", path)
            self.check(f"DELETE the {label} → 204", st == 204, f"{st} {body}")
            self.check(f"{name}: the {label} is gone", read() is None)
            st, body = s.call("GET", path)
            self.check(f"GET the {label} after delete → 404", st == 404, f"{st} {body}")

        if app.token_lifespan:
            final = self.token_fetches()
            print(f"  (the sidecar made {final.get('success', 0)} token calls to {name} in "
                  f"{time.monotonic() - started:.0f} s, {app.token_lifespan} s tokens)")


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in APPS:
        print(f"usage: story.py APP   (APP: {', '.join(APPS)})", file=sys.stderr)
        return 2
    story = Story(APPS[sys.argv[1]]())
    try:
        story.run()
    except Exception as e:  # a broken step is a failure, reported, not a traceback in CI
        story.check("the story ran to its end", False, f"{type(e).__name__}: {e}")
    print(f"{story.passed} passed, {story.failed} failed" + (f", {story.skipped} skipped" if story.skipped else ""))
    return 1 if story.failed else 0


APPS = {"keycloak": Keycloak, "jupyterhub": JupyterHub}

if __name__ == "__main__":
    sys.exit(main())
