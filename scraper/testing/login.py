"""The test site's members area: a login form with a CSRF field, a session cookie, pages behind
the session, a logout link and sessions that expire.

``GET /login`` sets a ``csrf`` cookie and puts the same token in a hidden field (with a live
session it redirects to ``/members/``); ``POST /login``
checks both and the user's password (``Members.users``), then sets the ``member`` session cookie
(``Max-Age`` ``Members.cookie_max_age_s``) and redirects to ``/members/``; a wrong one answers
the form again (200). ``/members/`` links to ``/members/{n}`` (``Members.pages`` of them), to
``/members/gone`` (whose session is always gone; ``Members.gone_link``) and to ``/logout``,
which ends the session. Without a live session a members' page redirects to
``/login?next=...``. A session ends after ``Members.session_pages`` pages (0: never). The app
keeps every login attempt (``Members.posts``: what each one sent).
"""

import secrets
from dataclasses import dataclass, field

from aiohttp import web

from scraper.testing.traffic import html

USER, PASSWORD = "alice", "correct horse battery staple"


@dataclass
class Members:
    """The members area's state: accounts, live sessions and what the server saw."""

    users: dict[str, str] = field(default_factory=lambda: {USER: PASSWORD})
    pages: int = 5
    session_pages: int = 0  # a session ends after this many members' pages (0: never)
    cookie_max_age_s: int = 3600
    gone_link: bool = False  # /members/ links to /members/gone too
    gone_kills: bool = False  # /members/gone ends the visitor's session
    sessions: dict[str, int] = field(default_factory=dict)  # session id -> pages seen
    posts: list[dict[str, str]] = field(default_factory=list)  # each login attempt's form
    logins: int = 0  # successful ones
    logouts: int = 0


MEMBERS = web.AppKey("members", Members)


def _form(token: str, error: str = "") -> str:
    message = f'<p class="error">{error}</p>' if error else ""
    return (
        f'{message}<form method="post" action="/login">'
        f'<input type="hidden" name="csrf" value="{token}">'
        '<input type="text" name="user"><input type="password" name="password">'
        '<input type="checkbox" name="remember" value="yes">'
        '<input type="submit" name="go" value="Sign in"></form>'
    )


async def login_form(request: web.Request) -> web.Response:
    """The form; a visitor whose session is alive is sent on to the members' area."""
    if request.cookies.get("member", "") in request.app[MEMBERS].sessions:
        raise web.HTTPFound("/members/")
    token = secrets.token_hex(8)
    response = html("Sign in", _form(token))
    response.set_cookie("csrf", token, path="/", httponly=True)
    return response


async def login_post(request: web.Request) -> web.Response:
    members = request.app[MEMBERS]
    form = {k: str(v) for k, v in (await request.post()).items()}
    members.posts.append(form)
    token = request.cookies.get("csrf")
    if not token or form.get("csrf") != token:
        return html("Sign in", _form(secrets.token_hex(8), "bad CSRF token"))
    if members.users.get(form.get("user", "")) != form.get("password"):
        return html("Sign in", _form(token, "wrong user or password"))
    sid = secrets.token_hex(16)
    members.sessions[sid] = 0
    members.logins += 1
    response = web.HTTPFound("/members/")
    response.set_cookie("member", sid, path="/", httponly=True, max_age=members.cookie_max_age_s)
    raise response


def _session(request: web.Request) -> str | None:
    """The request's live session id, counting the page against it; None if there is none."""
    members = request.app[MEMBERS]
    sid = request.cookies.get("member")
    if sid is None or sid not in members.sessions:
        return None
    members.sessions[sid] += 1
    if members.session_pages and members.sessions[sid] > members.session_pages:
        del members.sessions[sid]
        return None
    return sid


def _to_login(request: web.Request) -> web.HTTPFound:
    return web.HTTPFound(f"/login?next={request.path}")


async def members_home(request: web.Request) -> web.Response:
    if _session(request) is None:
        raise _to_login(request)
    count = request.app[MEMBERS].pages
    links = "".join(f'<a href="/members/{n}">member page {n}</a> ' for n in range(count))
    if request.app[MEMBERS].gone_link:
        links += '<a href="/members/gone">gone</a> '
    links += '<a href="/logout">Log out</a>'
    links += ' <a href="/account/sign-out?x=1">sign out</a> <a href="/login">sign in</a>'
    return html("Members", f"<p>Welcome back.</p>{links}")


async def members_page(request: web.Request) -> web.Response:
    if _session(request) is None:
        raise _to_login(request)
    n = request.match_info["n"]
    return html(f"Member page {n}", f'<p>Private page {n}.</p><a href="/members/">members</a>')


async def members_gone(request: web.Request) -> web.Response:
    """A page whose session is always gone: it sends every visitor to the login page (and ends
    the session, with ``Members.gone_kills``)."""
    members = request.app[MEMBERS]
    if members.gone_kills:
        members.sessions.pop(request.cookies.get("member", ""), None)
    raise _to_login(request)


async def logout(request: web.Request) -> web.Response:
    members = request.app[MEMBERS]
    members.logouts += 1
    members.sessions.pop(request.cookies.get("member", ""), None)
    response = html("Signed out", "<p>Bye.</p>")
    response.del_cookie("member", path="/")
    return response


def add_login_routes(app: web.Application) -> None:
    app[MEMBERS] = Members()
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login_post)
    app.router.add_get("/members/", members_home)
    app.router.add_get("/members/gone", members_gone)
    app.router.add_get("/members/{n:\\d+}", members_page)
    app.router.add_get("/logout", logout)
    app.router.add_get("/account/sign-out", logout)
