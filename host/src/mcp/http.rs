//! MCP over streamable HTTP. Loopback by default; a non-loopback address
//! needs a bearer token, checked on every request. `Host` and `Origin` are
//! validated against the served address to stop DNS rebinding.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::service::Service;

/// How to serve over HTTP.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Address to bind.
    pub addr: SocketAddr,
    /// Bearer token every request must carry (`Authorization: Bearer <token>`).
    pub token: Option<String>,
    /// Extra host names (or `host:port`) accepted in the `Host` header.
    pub allowed_hosts: Vec<String>,
    /// Extra browser origins accepted in the `Origin` header.
    pub allowed_origins: Vec<String>,
    /// The dashboard's login hash; `None` serves no dashboard.
    pub dashboard_login: Option<std::path::PathBuf>,
    /// Serve `POST /hook` (the hooks of the agent `checkrail run`
    /// confines), protecting this state directory from the agent's writes;
    /// `None` serves no hooks.
    pub hooks_state: Option<std::path::PathBuf>,
}

/// The `Host` and `Origin` values a server bound to `addr` accepts, plus
/// the extra ones configured.
pub fn accepted_names(
    addr: SocketAddr,
    extra_hosts: &[String],
    extra_origins: &[String],
) -> (Vec<String>, Vec<String>) {
    let mut hosts = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
        "[::1]".to_owned(),
    ];
    if !addr.ip().is_loopback() {
        hosts.push(addr.ip().to_string());
    }
    hosts.extend(extra_hosts.iter().cloned());
    let mut origins: Vec<String> = ["localhost", "127.0.0.1", "[::1]"]
        .iter()
        .map(|h| format!("http://{h}:{}", addr.port()))
        .collect();
    if !addr.ip().is_loopback() {
        origins.push(format!("http://{}", addr));
    }
    origins.extend(extra_origins.iter().cloned());
    (hosts, origins)
}

/// The names a server answers to, checked on every route that is not MCP
/// itself (whose transport checks them): a request whose `Host` is another
/// name is a DNS-rebinding page talking to loopback, and a form posted
/// from another `Origin` is cross-site.
#[derive(Debug, Clone)]
pub struct SameSite {
    /// Accepted `Host` values (`host` or `host:port`).
    pub hosts: Vec<String>,
    /// Accepted `Origin` values.
    pub origins: Vec<String>,
}

#[cfg(feature = "http")]
impl SameSite {
    /// The refusal of a request with these headers, if it is refused.
    pub fn refusal(&self, headers: &axum::http::HeaderMap) -> Option<axum::response::Response> {
        use axum::http::{StatusCode, header};
        use axum::response::IntoResponse;
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let name = host
            .rsplit_once(':')
            .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
            .map_or(host, |(name, _)| name);
        if !self.hosts.iter().any(|h| h == host || h == name) {
            return Some((StatusCode::FORBIDDEN, "unknown Host\n").into_response());
        }
        let foreign = headers.get(header::ORIGIN).is_some_and(|origin| {
            !self
                .origins
                .iter()
                .any(|o| origin.to_str().is_ok_and(|given| given == o))
        });
        foreign.then(|| (StatusCode::FORBIDDEN, "cross-origin request refused\n").into_response())
    }

    /// Middleware that answers a refused request with its refusal.
    pub async fn guard(
        axum::extract::State(names): axum::extract::State<Arc<SameSite>>,
        request: axum::extract::Request,
        next: axum::middleware::Next,
    ) -> axum::response::Response {
        match names.refusal(request.headers()) {
            Some(refused) => refused,
            None => next.run(request).await,
        }
    }
}

impl HttpOptions {
    /// Refuses a configuration that would expose the server without a token.
    pub fn validate(&self) -> Result<(), String> {
        if !self.addr.ip().is_loopback() && self.token.as_deref().is_none_or(str::is_empty) {
            return Err(format!(
                "serving on {} (not loopback) needs a bearer token: set CHECKRAIL_TOKEN or pass --token",
                self.addr
            ));
        }
        if let Some(token) = &self.token
            && token.len() < 16
        {
            return Err("the bearer token must be at least 16 characters long".to_owned());
        }
        Ok(())
    }
}

/// Serves until `shutdown` resolves. Returns the bound address through
/// `bound` as soon as the socket listens (port 0 picks a free port).
#[cfg(feature = "http")]
pub async fn serve(
    service: Arc<Service>,
    options: HttpOptions,
    bound: tokio::sync::oneshot::Sender<SocketAddr>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::extract::Request;
    use axum::http::{StatusCode, header};
    use axum::middleware::Next;
    use axum::response::{IntoResponse, Response};
    use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
    use rmcp::transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService,
    };

    options.validate().map_err(std::io::Error::other)?;
    let listener = tokio::net::TcpListener::bind(options.addr).await?;
    let addr = listener.local_addr()?;
    let _ = bound.send(addr);

    let (hosts, origins) = accepted_names(addr, &options.allowed_hosts, &options.allowed_origins);
    let dashboard = options.dashboard_login.clone().map(|login_file| {
        crate::dashboard::router(
            service.clone(),
            crate::dashboard::DashboardOptions {
                login_file,
                hosts: hosts.clone(),
                origins: origins.clone(),
            },
        )
    });

    let operations = operations_router(
        service.clone(),
        &SameSite {
            hosts: hosts.clone(),
            origins: origins.clone(),
        },
    );
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(hosts)
        .with_allowed_origins(origins);

    let hook_service = service.clone();
    let mcp = StreamableHttpService::new(
        move || Ok(super::CheckrailMcp::new(service.clone())),
        LocalSessionManager::default().into(),
        config,
    );

    let token = options.token.clone().map(Arc::new);
    let auth = move |request: Request, next: Next| {
        let token = token.clone();
        async move {
            if let Some(expected) = token {
                let given = request
                    .headers()
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "));
                if !given.is_some_and(|g| constant_time_eq(g.as_bytes(), expected.as_bytes())) {
                    let body =
                        "missing or wrong bearer token: send `Authorization: Bearer <token>`";
                    return (
                        StatusCode::UNAUTHORIZED,
                        [(header::WWW_AUTHENTICATE, "Bearer")],
                        body,
                    )
                        .into_response();
                }
            }
            let response: Response = next.run(request).await;
            response
        }
    };
    let mut app = axum::Router::new()
        .nest_service("/mcp", mcp)
        .merge(operations.metrics);
    if let Some(state) = options.hooks_state.clone() {
        app = app.merge(hooks_router(hook_service, state));
    }
    let app = app
        .layer(axum::middleware::from_fn(auth))
        // Probes answer without the token: they say nothing about sessions.
        .merge(operations.probes);
    // The dashboard has its own sign-in: browsers cannot send the token.
    let app = match dashboard {
        Some(dashboard) => app.merge(dashboard),
        None => app,
    };
    tracing::info!("serving MCP over streamable HTTP at http://{addr}/mcp");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// `POST /hook?agent=…&event=…`: one hook call of the confined agent, its
/// stdin as the body, answered as JSON (`{code, stdout, stderr}`) for
/// `checkrail hook` to print (see [`crate::hook::answer_with`]).
#[cfg(feature = "http")]
fn hooks_router(service: Arc<Service>, state: std::path::PathBuf) -> axum::Router {
    use axum::extract::Query;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;

    #[derive(serde::Deserialize)]
    struct Call {
        agent: crate::hook::Agent,
        event: crate::hook::Event,
    }
    let state = Arc::new(state);
    axum::Router::new().route(
        "/hook",
        axum::routing::post(move |Query(call): Query<Call>, body: axum::body::Bytes| {
            let (service, state) = (service.clone(), state.clone());
            async move {
                let answered = tokio::task::spawn_blocking(move || {
                    crate::hook::answer_with(
                        &service,
                        Some(&state),
                        (call.agent, call.event),
                        &body,
                    )
                })
                .await;
                match answered {
                    Ok(answer) => (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        serde_json::to_string(&answer).unwrap_or_default(),
                    )
                        .into_response(),
                    Err(e) => (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("the hook failed: {e}\n"),
                    )
                        .into_response(),
                }
            }
        }),
    )
}

/// Routes for operators: probes that need no token, and metrics that do
/// (they count sessions) whenever the server has one.
#[cfg(feature = "http")]
struct Operations {
    probes: axum::Router,
    metrics: axum::Router,
}

/// `/healthz` (the process answers), `/readyz` (the session store answers
/// and rules are loaded) and `/metrics` (Prometheus text format), each
/// answering only to the server's own names (`names`).
#[cfg(feature = "http")]
fn operations_router(service: Arc<Service>, names: &SameSite) -> Operations {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    use axum::routing::get;

    let ready = service.clone();
    let probes = axum::Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(move || {
                let service = ready.clone();
                async move {
                    match tokio::task::spawn_blocking(move || readiness(&service)).await {
                        Ok(Ok(summary)) => (StatusCode::OK, summary).into_response(),
                        Ok(Err(problem)) => {
                            (StatusCode::SERVICE_UNAVAILABLE, problem).into_response()
                        }
                        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {e}\n"))
                            .into_response(),
                    }
                }
            }),
        );
    let metrics = axum::Router::new().route(
        "/metrics",
        get(move || {
            let service = service.clone();
            async move {
                let counts = tokio::task::spawn_blocking(move || service.counts())
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .unwrap_or_default();
                let body = crate::metrics::global().render(&counts);
                (
                    [(
                        header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    body,
                )
            }
        }),
    );
    let names = Arc::new(names.clone());
    let guard = || axum::middleware::from_fn_with_state(names.clone(), SameSite::guard);
    Operations {
        probes: probes.layer(guard()),
        metrics: metrics.layer(guard()),
    }
}

/// `Ok` with a one-line summary when the store answers and rules are
/// loaded; `Err` naming what is not ready.
#[cfg(feature = "http")]
fn readiness(service: &Service) -> Result<String, String> {
    let sessions: u64 = service
        .counts()
        .map_err(|e| format!("not ready: the session store does not answer: {e}\n"))?
        .values()
        .sum();
    let rules = service.engine().rule_names().len();
    if rules == 0 {
        return Err("not ready: no rules are loaded\n".to_owned());
    }
    Ok(format!(
        "ready: {rules} rules loaded, {sessions} sessions in the store\n"
    ))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_loopback_needs_a_token() {
        let mut options = HttpOptions {
            addr: "0.0.0.0:8080".parse().unwrap(),
            token: None,
            allowed_hosts: vec![],
            allowed_origins: vec![],
            dashboard_login: None,
            hooks_state: None,
        };
        assert!(
            options
                .validate()
                .unwrap_err()
                .contains("needs a bearer token")
        );
        options.token = Some("short".into());
        assert!(options.validate().unwrap_err().contains("at least 16"));
        options.token = Some("a-long-enough-secret".into());
        assert!(options.validate().is_ok());
        options.addr = "127.0.0.1:0".parse().unwrap();
        options.token = None;
        assert!(options.validate().is_ok());
        assert!(constant_time_eq(b"abc", b"abc") && !constant_time_eq(b"abc", b"abd"));
    }
}
