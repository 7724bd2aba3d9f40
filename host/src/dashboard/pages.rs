//! The dashboard's pages, rendered on the server as plain HTML: no script,
//! every value escaped.

use std::fmt::Write as _;

use crate::report::CheckpointReport;
use crate::session::{Event, EventData, Session, Status};

/// Escapes text for HTML content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#1d1d1f}\
header{background:#1d3557;color:#fff;padding:.6em 1.2em;display:flex;gap:1.5em;align-items:center}\
header a{color:#fff}main{padding:1em 1.2em;max-width:1200px}\
table{border-collapse:collapse;width:100%;margin:.5em 0 1.5em}\
th,td{border-bottom:1px solid #ddd;padding:.35em .5em;text-align:left;vertical-align:top}\
th{background:#f4f4f6}.status{font-weight:600}.awaiting_approval{color:#b35c00}\
.completed{color:#2b7a0b}.abandoned{color:#888}.error{color:#b00020}.warning{color:#b35c00}\
.info{color:#555}.pass{color:#2b7a0b}.fail{color:#b00020}code{background:#f4f4f6;padding:0 .2em}\
form.inline{display:inline}.gate{border:2px solid #b35c00;padding:.8em;margin:1em 0}\
.notice{background:#fff4e5;padding:.6em;border-left:4px solid #b35c00}";

/// The Content-Security-Policy of every page: nothing loads or runs but
/// the page's own style sheet (allowed by its hash) and forms posted to
/// the dashboard itself.
pub fn content_security_policy() -> String {
    use base64::Engine as _;
    use sha2::{Digest, Sha256};
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
}

/// A whole page around `body`.
pub fn page(title: &str, signed_in: Option<&str>, body: &str) -> String {
    let nav = match signed_in {
        Some(csrf) => format!(
            "<a href=\"/ui/sessions\">Sessions</a><a href=\"/ui/approvals\">Approvals</a>\
             <form class=\"inline\" method=\"post\" action=\"/ui/logout\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\"><button>Sign out</button></form>",
            esc(csrf)
        ),
        None => String::new(),
    };
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>{} · checkrail</title><style>{STYLE}</style></head>\
         <body><header><strong>checkrail</strong>{nav}</header><main>{body}</main></body></html>",
        esc(title)
    )
}

/// The sign-in form (or how to set a password when none is set).
pub fn login(configured: bool, failed: bool) -> String {
    if !configured {
        return page(
            "Sign in",
            None,
            "<h1>Sign in</h1><p class=\"notice\">No dashboard password is set. A human sets it at a \
             terminal: <code>checkrail dashboard --set-password</code>. It is kept, hashed, in the \
             per-user state directory, never in the workspace.</p>",
        );
    }
    let error = if failed {
        "<p class=\"error\" id=\"login-error\">Wrong password.</p>"
    } else {
        ""
    };
    page(
        "Sign in",
        None,
        &format!(
            "<h1>Sign in</h1>{error}<form method=\"post\" action=\"/ui/login\">\
             <label>Password <input type=\"password\" name=\"password\" id=\"password\" autofocus></label> \
             <button id=\"sign-in\">Sign in</button></form>"
        ),
    )
}

/// Filters of the session list.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Filters {
    /// A status name, or empty for all.
    #[serde(default)]
    pub status: String,
    /// Text the workflow id must contain.
    #[serde(default)]
    pub workflow: String,
    /// Sessions skipped before the page.
    #[serde(default)]
    pub offset: u64,
}

/// `text` as a URL query value: letters, digits and `-._~` as they are,
/// every other byte percent-encoded.
fn query_value(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Sessions on one page of the list.
pub const PAGE: u64 = 100;

/// One page of the session list with its filters.
pub fn sessions(page_of: &crate::service::SessionPage, filters: &Filters, csrf: &str) -> String {
    let shown = &page_of.sessions;
    let mut body = String::from("<h1>Sessions</h1><form method=\"get\" action=\"/ui/sessions\">");
    let _ = write!(
        body,
        "<label>Status <select name=\"status\" id=\"status\"><option value=\"\">any</option>"
    );
    for status in Status::ALL {
        let selected = if filters.status == status.as_str() {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            body,
            "<option value=\"{0}\"{selected}>{0}</option>",
            status.as_str()
        );
    }
    let _ = write!(
        body,
        "</select></label> <label>Workflow <input name=\"workflow\" id=\"workflow\" value=\"{}\"></label> \
         <button id=\"filter\">Filter</button></form>",
        esc(&filters.workflow)
    );
    let first = if shown.is_empty() {
        0
    } else {
        page_of.offset + 1
    };
    let _ = write!(
        body,
        "<p id=\"count\">{first}–{} of {} sessions</p><table id=\"sessions\"><tr><th>session</th><th>workflow</th>\
         <th>phase</th><th>status</th><th>attempts</th><th>updated</th></tr>",
        page_of.offset + shown.len() as u64,
        page_of.total
    );
    for s in shown {
        let _ = write!(
            body,
            "<tr><td><a href=\"/ui/sessions/{id}\">{id}</a></td><td>{wf} {ver}</td><td>{phase}</td>\
             <td class=\"status {status}\">{status}</td><td>{attempts}</td><td>{updated}</td></tr>",
            id = esc(&s.id),
            wf = esc(&s.workflow_id),
            ver = esc(&s.workflow_version),
            phase = esc(&s.phase_id),
            status = s.status.as_str(),
            attempts = s.attempts,
            updated = esc(&s.updated_at),
        );
    }
    body.push_str("</table>");
    let link = |offset: u64, text: &str, id: &str| {
        format!(
            "<a id=\"{id}\" href=\"/ui/sessions?status={}&amp;workflow={}&amp;offset={offset}\">{text}</a> ",
            query_value(&filters.status),
            query_value(&filters.workflow)
        )
    };
    if page_of.offset > 0 {
        body.push_str(&link(page_of.offset.saturating_sub(PAGE), "newer", "newer"));
    }
    if let Some(next) = page_of.next_offset {
        body.push_str(&link(next, "older", "older"));
    }
    page("Sessions", Some(csrf), &body)
}

/// Pending approvals, each with its decision form.
pub fn approvals(waiting: &[(Session, String, String)], csrf: &str) -> String {
    let mut body = String::from("<h1>Approvals waiting</h1>");
    if waiting.is_empty() {
        body.push_str("<p id=\"none\">No session is waiting for a human.</p>");
    }
    for (session, prompt, passed) in waiting {
        body.push_str(&gate(session, prompt, passed, csrf));
    }
    page("Approvals", Some(csrf), &body)
}

/// The approve/reject form of a session waiting on a gate; an escalation
/// can only be rejected here (sent back to work with the note).
fn gate(session: &Session, prompt: &str, passed: &str, csrf: &str) -> String {
    let approve = if session.status == Status::Escalated {
        ""
    } else {
        "<button name=\"decision\" value=\"approve\" class=\"approve\">Approve</button> "
    };
    format!(
        "<section class=\"gate\" id=\"gate-{id}\"><h2>Session <a href=\"/ui/sessions/{id}\">{id}</a>: \
         {wf}, phase <code>{phase}</code></h2><p>{prompt}</p><p>Checks: {passed}</p>\
         <form method=\"post\" action=\"/ui/sessions/{id}/decide\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label>Note <input name=\"note\" class=\"note\"></label> \
         {approve}<button name=\"decision\" value=\"reject\" class=\"reject\">Reject</button></form></section>",
        id = esc(&session.id),
        wf = esc(&session.workflow_id),
        phase = esc(&session.phase_id),
        prompt = esc(prompt),
        passed = esc(passed),
        csrf = esc(csrf),
    )
}

/// What one session page shows.
pub struct SessionView<'a> {
    pub session: &'a Session,
    pub events: &'a [Event],
    pub reports: &'a [(String, CheckpointReport)],
    /// The gate's prompt and the passed checks' summary, when waiting.
    pub gate: Option<(String, String)>,
    /// A note to show on top (the result of a decision).
    pub notice: Option<String>,
}

/// A session: its gate, path, latest findings per checkpoint, timeline.
pub fn session(view: &SessionView<'_>, csrf: &str) -> String {
    let s = view.session;
    let mut body = format!(
        "<h1>Session <code>{}</code></h1><p>{} {} · phase <code>{}</code> · \
         <span class=\"status {}\" id=\"status\">{}</span> · started {} · updated {}</p>",
        esc(&s.id),
        esc(&s.workflow_id),
        esc(&s.workflow_version),
        esc(&s.phase_id),
        s.status.as_str(),
        s.status.as_str(),
        esc(&s.created_at),
        esc(&s.updated_at),
    );
    match s.provenance["confinement"]["confined"].as_bool() {
        Some(true) => {
            let _ = write!(
                body,
                "<p id=\"confinement\">The agent ran confined (<code>checkrail run</code>, Landlock ABI {}).</p>",
                esc(&s.provenance["confinement"]["landlock_abi"].to_string())
            );
        }
        Some(false) => body.push_str(
            "<p id=\"confinement\">The agent ran unconfined: it could reach checkrail's state as its user.</p>",
        ),
        None => {}
    }
    if let Some(notice) = &view.notice {
        let _ = write!(
            body,
            "<p class=\"notice\" id=\"notice\">{}</p>",
            esc(notice)
        );
    }
    if let Some((prompt, passed)) = &view.gate {
        body.push_str(&gate(s, prompt, passed, csrf));
    }
    body.push_str("<h2>Path</h2><ol id=\"path\">");
    for step in &s.path {
        let iteration = step.iteration.map(|n| format!(" #{n}")).unwrap_or_default();
        let reason = step
            .reason
            .as_deref()
            .map(|r| format!(" — {}", esc(r)))
            .unwrap_or_default();
        let _ = write!(
            body,
            "<li><code>{}</code>{iteration}: {:?}{reason}</li>",
            esc(&step.phase),
            step.outcome
        );
    }
    let _ = write!(
        body,
        "<li><code>{}</code> (current)</li></ol>",
        esc(&s.phase_id)
    );
    body.push_str("<h2>Findings</h2>");
    if view.reports.is_empty() {
        body.push_str("<p>No checkpoint has run yet.</p>");
    }
    for (label, report) in view.reports {
        body.push_str(&findings(label, report));
    }
    body.push_str(
        "<h2>Timeline</h2><table id=\"timeline\"><tr><th>#</th><th>when</th><th>event</th>\
         <th>phase</th><th>detail</th></tr>",
    );
    for (n, event) in view.events.iter().enumerate() {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            n + 1,
            esc(&event.at),
            esc(event.kind()),
            esc(event.phase.as_deref().unwrap_or("")),
            esc(&detail(event)),
        );
    }
    body.push_str("</table>");
    page(&format!("Session {}", s.id), Some(csrf), &body)
}

/// One checkpoint's rules and findings, each at file:line.
fn findings(label: &str, report: &CheckpointReport) -> String {
    let verdict = if report.passed { "pass" } else { "fail" };
    let mut out = format!(
        "<h3>{} — <span class=\"{verdict}\">{}</span></h3><table class=\"findings\">\
         <tr><th>rule</th><th>severity</th><th>where</th><th>message</th><th>fix</th></tr>",
        esc(label),
        esc(&report.summary)
    );
    for rule in &report.rules {
        let name = rule.name.as_deref().unwrap_or(&rule.rule);
        if rule.findings.is_empty() {
            let _ = write!(
                out,
                "<tr><td>{}</td><td></td><td></td><td>{}</td><td></td></tr>",
                esc(name),
                esc(&rule.summary)
            );
        }
        for f in &rule.findings {
            let place = match (&f.path, f.line) {
                (Some(path), Some(line)) => format!("{path}:{line}"),
                (Some(path), None) => path.clone(),
                _ => String::new(),
            };
            let severity = f.severity.as_str();
            let _ = write!(
                out,
                "<tr><td>{}</td><td class=\"{severity}\">{severity}</td><td class=\"where\"><code>{}</code></td>\
                 <td>{}</td><td>{}</td></tr>",
                esc(name),
                esc(&place),
                esc(&f.message),
                esc(f.fix_hint.as_deref().unwrap_or("")),
            );
        }
    }
    out.push_str("</table>");
    out
}

/// A short line about an event.
fn detail(event: &Event) -> String {
    match &event.data {
        EventData::Validated(verdict) | EventData::ValidationFailed(verdict) => {
            verdict.report.summary.clone()
        }
        EventData::Approved(decision) | EventData::Rejected(decision) => {
            let note = decision
                .note
                .as_ref()
                .map(|n| format!(": {n}"))
                .unwrap_or_default();
            format!(
                "by {} through {}{note}",
                decision.by,
                decision.channel.as_str()
            )
        }
        EventData::Skipped(skipped) => skipped.reason.clone(),
        EventData::Escalated(escalation) => {
            format!("by the {}: {}", escalation.by, escalation.reason)
        }
        EventData::IterationStarted(started) => started.reason.clone(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_that_could_be_markup() {
        assert_eq!(
            esc("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
    }
}
