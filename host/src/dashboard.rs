//! The web dashboard for humans, under `/ui`: sessions with filters, a
//! session's path, timeline and findings at file:line, and the approvals
//! waiting, with approve and reject buttons.
//!
//! Everything under `/ui` needs a sign-in with the dashboard password, a
//! credential a human sets at a terminal and the server keeps hashed in the
//! per-user state directory, never in the workspace. Forms carry a
//! per-sign-in CSRF token, cookies are `HttpOnly` and `SameSite=Strict`,
//! the `Host` and `Origin` headers are checked against the served address,
//! and an approval is recorded with the `dashboard` channel, which a
//! workspace must allow in `[approval] via`.

mod login;
mod pages;

pub use login::{FAILURES_ALLOWED, MIN_PASSWORD, login_file, set_password};

#[cfg(feature = "http")]
pub use web::{DashboardOptions, router};

#[cfg(feature = "http")]
mod web {
    use std::path::PathBuf;
    use std::sync::Arc;

    use axum::extract::{ConnectInfo, Form, Path, Query, Request, State};
    use axum::http::{HeaderMap, StatusCode, header};
    use axum::middleware::Next;
    use axum::response::{Html, IntoResponse, Redirect, Response};
    use axum::routing::{get, post};
    use serde::Deserialize;

    use super::login::{Logins, Signed, Throttle, same};
    use super::pages::{self, Filters, SessionView};
    use crate::config::ApprovalChannel;
    use crate::mcp::http::SameSite;
    use crate::service::{Decision, Service};
    use crate::session::Status;

    const COOKIE: &str = "checkrail_dashboard";

    /// How the dashboard is served.
    #[derive(Debug, Clone)]
    pub struct DashboardOptions {
        /// The login hash (see [`super::login_file`]).
        pub login_file: PathBuf,
        /// Accepted `Host` header values (`host` or `host:port`).
        pub hosts: Vec<String>,
        /// Accepted `Origin` header values for forms.
        pub origins: Vec<String>,
    }

    #[derive(Clone)]
    struct App {
        service: Arc<Service>,
        logins: Arc<Logins>,
        throttle: Arc<Throttle>,
        names: Arc<SameSite>,
    }

    /// The `/ui` routes.
    pub fn router(service: Arc<Service>, options: DashboardOptions) -> axum::Router {
        let app = App {
            service,
            logins: Arc::new(Logins::new(&options.login_file)),
            throttle: Arc::new(Throttle::default()),
            names: Arc::new(SameSite {
                hosts: options.hosts,
                origins: options.origins,
            }),
        };
        axum::Router::new()
            .route("/ui", get(|| async { Redirect::to("/ui/sessions") }))
            .route("/ui/", get(|| async { Redirect::to("/ui/sessions") }))
            .route("/ui/login", get(login_page).post(sign_in))
            .route("/ui/logout", post(sign_out))
            .route("/ui/sessions", get(sessions))
            .route("/ui/sessions/{id}", get(session))
            .route("/ui/sessions/{id}/decide", post(decide))
            .route("/ui/approvals", get(approvals))
            .layer(axum::middleware::from_fn(security_headers))
            .layer(axum::middleware::from_fn_with_state(
                app.names.clone(),
                SameSite::guard,
            ))
            .with_state(app)
    }

    /// What every dashboard answer says about itself: its own inline style
    /// and nothing else may load or run (no script at all), it may not be
    /// framed, sniffed as another type, or leak its address as a referrer
    /// to another site (`same-origin`: `no-referrer` would make browsers
    /// send `Origin: null` on its own forms, which the origin check
    /// refuses).
    async fn security_headers(request: Request, next: Next) -> Response {
        let mut response = next.run(request).await;
        let headers = response.headers_mut();
        let policy = pages::content_security_policy();
        for (name, value) in [
            (header::CONTENT_SECURITY_POLICY, policy.as_str()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "same-origin"),
            (header::X_FRAME_OPTIONS, "DENY"),
        ] {
            if let Ok(value) = header::HeaderValue::from_str(value) {
                headers.insert(name, value);
            }
        }
        response
    }

    /// The signed-in browser of this request, with its session id.
    fn signed_in(app: &App, headers: &HeaderMap) -> Option<(String, Signed)> {
        let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
        let id = cookies
            .split(';')
            .filter_map(|c| c.trim().split_once('='))
            .find(|(name, _)| *name == COOKIE)
            .map(|(_, value)| value.to_owned())?;
        let signed = app.logins.get(&id)?;
        Some((id, signed))
    }

    fn to_login() -> Response {
        Redirect::to("/ui/login").into_response()
    }

    async fn login_page(State(app): State<App>) -> Html<String> {
        Html(pages::login(app.logins.configured(), false))
    }

    #[derive(Deserialize)]
    struct Password {
        password: String,
    }

    async fn sign_in(
        State(app): State<App>,
        ConnectInfo(client): ConnectInfo<std::net::SocketAddr>,
        Form(form): Form<Password>,
    ) -> Response {
        let client = client.ip();
        if let Some(wait) = app.throttle.wait(client) {
            let message = format!(
                "too many failed sign-ins from this address: try again in {} s (the password is set with `checkrail dashboard --set-password` at a terminal)",
                wait.as_secs().max(1)
            );
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, wait.as_secs().max(1).to_string())],
                message,
            )
                .into_response();
        }
        let logins = app.logins.clone();
        let id = tokio::task::spawn_blocking(move || logins.sign_in(&form.password))
            .await
            .ok()
            .flatten();
        match id {
            Some(id) => {
                app.throttle.succeeded(client);
                (
                    StatusCode::SEE_OTHER,
                    [
                        (header::LOCATION, "/ui/sessions".to_owned()),
                        (
                            header::SET_COOKIE,
                            format!("{COOKIE}={id}; Path=/ui; HttpOnly; SameSite=Strict"),
                        ),
                    ],
                )
                    .into_response()
            }
            None => {
                app.throttle.failed(client);
                // Slows guessing further, on top of bcrypt's cost.
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                (
                    StatusCode::UNAUTHORIZED,
                    Html(pages::login(app.logins.configured(), true)),
                )
                    .into_response()
            }
        }
    }

    #[derive(Deserialize)]
    struct Csrf {
        csrf: String,
    }

    async fn sign_out(
        State(app): State<App>,
        headers: HeaderMap,
        Form(form): Form<Csrf>,
    ) -> Response {
        if let Some((id, signed)) = signed_in(&app, &headers)
            && same(&form.csrf, &signed.csrf)
        {
            app.logins.sign_out(&id);
        }
        to_login()
    }

    /// Runs blocking service work; an error becomes a 500 page.
    async fn blocking<T: Send + 'static>(
        app: &App,
        work: impl FnOnce(&Service) -> crate::Result<T> + Send + 'static,
    ) -> Result<T, Response> {
        let service = app.service.clone();
        match tokio::task::spawn_blocking(move || work(&service)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(failure(StatusCode::NOT_FOUND, &e.to_string())),
            Err(e) => Err(failure(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())),
        }
    }

    fn failure(status: StatusCode, message: &str) -> Response {
        (
            status,
            Html(pages::page(
                "Error",
                None,
                &format!(
                    "<h1>Error</h1><p class=\"error\">{}</p>",
                    pages::esc(message)
                ),
            )),
        )
            .into_response()
    }

    async fn sessions(
        State(app): State<App>,
        headers: HeaderMap,
        Query(filters): Query<Filters>,
    ) -> Response {
        let Some((_, signed)) = signed_in(&app, &headers) else {
            return to_login();
        };
        let query = checkrail_query(&filters);
        match blocking(&app, move |service| service.page(&query)).await {
            Ok(page) => Html(pages::sessions(&page, &filters, &signed.csrf)).into_response(),
            Err(response) => response,
        }
    }

    /// The store query the list's filters ask for, one page of
    /// [`pages::PAGE`] sessions.
    fn checkrail_query(filters: &Filters) -> crate::session::SessionQuery {
        crate::session::SessionQuery {
            status: Status::ALL
                .iter()
                .copied()
                .find(|s| s.as_str() == filters.status),
            workflow: Some(filters.workflow.clone()).filter(|w| !w.is_empty()),
            limit: Some(pages::PAGE),
            offset: filters.offset,
        }
    }

    async fn approvals(State(app): State<App>, headers: HeaderMap) -> Response {
        let Some((_, signed)) = signed_in(&app, &headers) else {
            return to_login();
        };
        let waiting = blocking(&app, |service| {
            let mut waiting = Vec::new();
            for status in [Status::AwaitingApproval, Status::Escalated] {
                for session in service.list(Some(status))? {
                    if let Ok(gate) = service.gate(&session.id) {
                        waiting.push(gate);
                    }
                }
            }
            Ok(waiting)
        })
        .await;
        match waiting {
            Ok(waiting) => Html(pages::approvals(&waiting, &signed.csrf)).into_response(),
            Err(response) => response,
        }
    }

    #[derive(Deserialize, Default)]
    struct Shown {
        #[serde(default)]
        notice: Option<String>,
    }

    async fn session(
        State(app): State<App>,
        headers: HeaderMap,
        Path(id): Path<String>,
        Query(shown): Query<Shown>,
    ) -> Response {
        let Some((_, signed)) = signed_in(&app, &headers) else {
            return to_login();
        };
        let loaded = blocking(&app, move |service| {
            let session = service.next(&id)?.session;
            let events = service.events(&id)?;
            let reports = service.latest_reports(&id)?;
            let gate = session
                .status
                .waits_for_human()
                .then(|| service.gate(&id).ok())
                .flatten()
                .map(|(_, prompt, passed)| (prompt, passed));
            Ok((session, events, reports, gate))
        })
        .await;
        match loaded {
            Ok((session, events, reports, gate)) => Html(pages::session(
                &SessionView {
                    session: &session,
                    events: &events,
                    reports: &reports,
                    gate,
                    notice: shown
                        .notice
                        .as_deref()
                        .and_then(notice_text)
                        .map(str::to_owned),
                },
                &signed.csrf,
            ))
            .into_response(),
            Err(response) => response,
        }
    }

    #[derive(Deserialize)]
    struct DecisionForm {
        csrf: String,
        decision: String,
        #[serde(default)]
        note: String,
    }

    async fn decide(
        State(app): State<App>,
        headers: HeaderMap,
        Path(id): Path<String>,
        Form(form): Form<DecisionForm>,
    ) -> Response {
        let Some((_, signed)) = signed_in(&app, &headers) else {
            return to_login();
        };
        if !same(&form.csrf, &signed.csrf) {
            return failure(
                StatusCode::FORBIDDEN,
                "this form is stale or was not sent by the dashboard; reload the page and decide again",
            );
        }
        let approve = match form.decision.as_str() {
            "approve" => true,
            "reject" => false,
            other => {
                return failure(
                    StatusCode::BAD_REQUEST,
                    &format!("unknown decision `{other}`: approve or reject"),
                );
            }
        };
        let agent = headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(120).collect::<String>());
        let decision = Decision::on_dashboard(approve, agent, &form.note);
        let target = id.clone();
        let outcome = blocking(&app, move |service| service.decide(&target, &decision)).await;
        let notice = match outcome {
            Ok(_) if approve => "approved",
            Ok(_) => "rejected",
            Err(_) => {
                let refused_channel = app
                    .service
                    .approval_channels(&id)
                    .is_ok_and(|via| !via.contains(&ApprovalChannel::Dashboard));
                if refused_channel {
                    "channel-refused"
                } else {
                    "not-waiting"
                }
            }
        };
        Redirect::to(&format!(
            "/ui/sessions/{}?notice={notice}",
            form_urlencode(&id)
        ))
        .into_response()
    }

    /// The text of a notice code a decision redirected with.
    fn notice_text(code: &str) -> Option<&'static str> {
        Some(match code {
            "approved" => "Approved; the session moved on.",
            "rejected" => "Rejected; the agent must validate the phase again.",
            "channel-refused" => {
                "The decision was not recorded: this session does not accept dashboard approvals. Add \"dashboard\" to `[approval] via` in checkrail.toml; it applies to sessions started after the change."
            }
            "not-waiting" => {
                "The decision was not recorded: the session is not waiting for approval."
            }
            _ => return None,
        })
    }

    /// Percent-encodes `text` for a query string.
    fn form_urlencode(text: &str) -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_owned(),
                other => format!("%{other:02X}"),
            })
            .collect()
    }
}
