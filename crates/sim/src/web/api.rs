//! The HTTP routes: the page, the JSON API, server-sent events.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::mailbox::{safe_id, SessionRecord, Stored};
use super::rules::RuleRequest;
use super::AppState;
use crate::annotate::Deviation;

type S = State<Arc<AppState>>;

const INDEX: &str = include_str!("../../web/index.html");
const APP_JS: &str = include_str!("../../web/app.js");
const APP_CSS: &str = include_str!("../../web/app.css");

/// The CSP for a message's HTML: nothing remote, no scripts, inline styles only.
pub(crate) const HTML_CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data: cid:";
const PAGE_CSP: &str = "default-src 'self'; img-src 'self' data:; frame-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'";

pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(index))
        .route(
            "/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/app.css",
            get(|| async { asset("text/css; charset=utf-8", APP_CSS) }),
        )
        .route("/api/v1/messages", get(list).delete(delete_all))
        .route("/api/v1/messages/{id}", get(one).delete(delete_one))
        .route("/api/v1/messages/{id}/raw", get(raw))
        .route("/api/v1/messages/{id}/html", get(html))
        .route("/api/v1/messages/{id}/parts/{n}", get(part))
        .route("/api/v1/messages/{id}/session", get(message_session))
        .route("/api/v1/sessions", get(sessions).delete(delete_sessions))
        .route("/api/v1/sessions/{id}", get(session))
        .route(
            "/api/v1/faults",
            get(faults).post(add_fault).delete(clear_faults),
        )
        .route("/api/v1/faults/{id}", delete(delete_fault))
        .route("/api/v1/events", get(events))
        .layer(middleware::from_fn_with_state(state.clone(), basic_auth))
        .with_state(state)
}

/// An error answered as `{"error": "..."}`.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

fn not_found(what: &str) -> ApiError {
    ApiError(StatusCode::NOT_FOUND, format!("no such {what}"))
}

fn io_error(e: std::io::Error) -> ApiError {
    ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("store: {e}"))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn index() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, PAGE_CSP),
        ],
        INDEX,
    )
        .into_response()
}

/// Compares without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn basic_auth(State(s): S, req: Request, next: Next) -> Response {
    if let Some(expected) = &s.auth {
        let ok = req
            .headers()
            .get(header::AUTHORIZATION)
            .is_some_and(|v| same(v.as_bytes(), expected.as_bytes()));
        if !ok {
            return (
                StatusCode::UNAUTHORIZED,
                [(
                    header::WWW_AUTHENTICATE,
                    "Basic realm=\"postel sim\", charset=\"UTF-8\"",
                )],
                "authentication required\n",
            )
                .into_response();
        }
    }
    next.run(req).await
}

fn message(s: &AppState, id: &str) -> Result<Stored, ApiError> {
    if !safe_id(id) {
        return Err(not_found("message"));
    }
    s.mailbox.message(id).ok_or_else(|| not_found("message"))
}

fn summary_json(s: &AppState, m: &Stored) -> Value {
    let notes = s
        .mailbox
        .session(&m.meta.session)
        .map(|r| r.annotations.len());
    json!({
        "id": m.meta.id,
        "received": m.meta.received,
        "from": m.meta.mail_from,
        "to": m.meta.rcpt_to.iter().map(|r| r.address.clone()).collect::<Vec<_>>(),
        "subject": m.meta.subject,
        "header_from": m.meta.header_from,
        "header_to": m.meta.header_to,
        "size": m.meta.size,
        "session": m.meta.session,
        "annotations": notes,
    })
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    query: Option<String>,
}

fn matches(m: &Stored, q: &str) -> bool {
    let q = q.to_lowercase();
    let hay = [
        &m.meta.mail_from,
        &m.meta.subject,
        &m.meta.header_from,
        &m.meta.header_to,
    ];
    hay.iter().any(|h| h.to_lowercase().contains(&q))
        || m.meta
            .rcpt_to
            .iter()
            .any(|r| r.address.to_lowercase().contains(&q))
}

async fn list(State(s): S, Query(q): Query<ListQuery>) -> Json<Value> {
    let all = s.mailbox.messages();
    let total = all.len();
    let query = q.query.unwrap_or_default();
    let query = query.trim();
    let shown: Vec<Value> = all
        .iter()
        .rev()
        .filter(|m| query.is_empty() || matches(m, query))
        .map(|m| summary_json(&s, m))
        .collect();
    Json(json!({ "total": total, "count": shown.len(), "messages": shown }))
}

async fn one(State(s): S, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let m = message(&s, &id)?;
    let base = format!("/api/v1/messages/{id}");
    let meta = &m.meta;
    let mut v = summary_json(&s, &m);
    v["envelope"] = json!({
        "helo": meta.helo,
        "mail_from": meta.mail_from,
        "mail_params": meta.mail_params.iter().map(|p| json!({"keyword": p.keyword, "value": p.value})).collect::<Vec<_>>(),
        "rcpt_to": meta.rcpt_to.iter().map(|r| json!({
            "address": r.address,
            "params": r.params.iter().map(|p| json!({"keyword": p.keyword, "value": p.value})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "transfer": meta.transfer,
        "tls": meta.tls,
        "auth_user": meta.auth_user,
        "connection": meta.connection,
        "queue_id": meta.queue_id,
    });
    let d = super::mime::detail(&m.raw, &base);
    for key in ["headers", "text", "html", "parts"] {
        v[key] = d[key].clone();
    }
    v["links"] = json!({
        "raw": format!("{base}/raw"),
        "session": format!("{base}/session"),
        "html": d["html"],
    });
    Ok(Json(v))
}

async fn raw(State(s): S, Path(id): Path<String>) -> Result<Response, ApiError> {
    let m = message(&s, &id)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        m.raw.as_ref().clone(),
    )
        .into_response())
}

async fn html(State(s): S, Path(id): Path<String>) -> Result<Response, ApiError> {
    let m = message(&s, &id)?;
    let body = super::mime::html(&m.raw).ok_or_else(|| not_found("HTML part"))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, HTML_CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response())
}

/// A file name safe for a Content-Disposition header.
fn safe_filename(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    if cleaned.trim().is_empty() {
        "part".to_owned()
    } else {
        cleaned
    }
}

async fn part(State(s): S, Path((id, n)): Path<(String, usize)>) -> Result<Response, ApiError> {
    let m = message(&s, &id)?;
    let (ct, name, bytes) = super::mime::part(&m.raw, n).ok_or_else(|| not_found("part"))?;
    let name = safe_filename(name.as_deref().unwrap_or(&format!("part-{n}")));
    let ct = HeaderValue::from_str(&ct)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    Ok((
        [
            (header::CONTENT_TYPE, ct),
            (header::CONTENT_DISPOSITION, disposition),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("sandbox"),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// A stored session, or the live one of this run.
fn find_session(s: &AppState, id: &str) -> Option<SessionRecord> {
    if !safe_id(id) {
        return None;
    }
    if let Some(r) = s.mailbox.session(id) {
        return Some(r);
    }
    let conn: u64 = id
        .strip_prefix(&format!("{}-c", s.mailbox.run))?
        .parse()
        .ok()?;
    let t = s.shared.transcript(conn)?;
    Some(SessionRecord::from_transcript(
        id.to_owned(),
        &t,
        &s.shared.annotations(conn),
    ))
}

fn session_json(s: &AppState, r: &SessionRecord) -> Value {
    let annotations: Vec<Value> = r
        .annotations
        .iter()
        .map(|a| {
            let d = Deviation::from_code(&a.code);
            json!({
                "line": a.line,
                "code": a.code,
                "title": d.map(|d| d.title()),
                "detail": a.detail,
                "verdicts": d.map(|d| d.verdicts().iter().map(|v| json!({
                    "server": v.server,
                    "outcome": v.outcome.as_str(),
                    "how": v.how,
                })).collect::<Vec<_>>()).unwrap_or_default(),
            })
        })
        .collect();
    let lines: Vec<Value> = r
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let on: Vec<usize> = r
                .annotations
                .iter()
                .enumerate()
                .filter(|(_, a)| a.line == i)
                .map(|(k, _)| k)
                .collect();
            json!({ "index": i, "side": l.side, "text": l.text, "annotations": on })
        })
        .collect();
    let messages: Vec<String> = s
        .mailbox
        .messages()
        .into_iter()
        .filter(|m| m.meta.session == r.id)
        .map(|m| m.meta.id)
        .collect();
    json!({
        "id": r.id,
        "connection": r.connection,
        "closed": r.closed,
        "lines": lines,
        "annotations": annotations,
        "messages": messages,
    })
}

async fn message_session(State(s): S, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let m = message(&s, &id)?;
    let r = find_session(&s, &m.meta.session).ok_or_else(|| not_found("session"))?;
    Ok(Json(session_json(&s, &r)))
}

async fn session(State(s): S, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let r = find_session(&s, &id).ok_or_else(|| not_found("session"))?;
    Ok(Json(session_json(&s, &r)))
}

async fn sessions(State(s): S) -> Json<Value> {
    let mut all = s.mailbox.sessions();
    for conn in 1..=s.shared.connection_count() {
        let id = s.mailbox.session_id(conn);
        if !all.iter().any(|r| r.id == id) {
            if let Some(r) = find_session(&s, &id) {
                all.push(r);
            }
        }
    }
    all.sort_by(|a, b| b.id.cmp(&a.id));
    let messages = s.mailbox.messages();
    let list: Vec<Value> = all
        .iter()
        .map(|r| {
            let mut codes: Vec<&str> = Vec::new();
            for a in &r.annotations {
                if !codes.contains(&a.code.as_str()) {
                    codes.push(&a.code);
                }
            }
            json!({
                "id": r.id,
                "connection": r.connection,
                "closed": r.closed,
                "lines": r.lines.len(),
                "first_line": r.lines.iter().find(|l| l.side.as_deref() == Some("client")).map(|l| l.text.clone()),
                "annotations": r.annotations.len(),
                "codes": codes,
                "messages": messages.iter().filter(|m| m.meta.session == r.id).map(|m| m.meta.id.clone()).collect::<Vec<_>>(),
            })
        })
        .collect();
    Json(json!({ "count": list.len(), "sessions": list }))
}

async fn delete_sessions(State(s): S) -> Result<Json<Value>, ApiError> {
    let n = s.mailbox.delete_sessions().map_err(io_error)?;
    Ok(Json(json!({ "deleted": n })))
}

async fn delete_all(State(s): S) -> Result<Json<Value>, ApiError> {
    let n = s.mailbox.delete_all().map_err(io_error)?;
    Ok(Json(json!({ "deleted": n })))
}

async fn delete_one(State(s): S, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    if !safe_id(&id) || !s.mailbox.delete(&id).map_err(io_error)? {
        return Err(not_found("message"));
    }
    Ok(Json(json!({ "deleted": 1 })))
}

fn apply_rules(s: &AppState, rules: &[super::rules::Rule]) {
    let mut faults = s.base_faults.clone();
    faults.extend(rules.iter().map(|r| r.fault.clone()));
    s.shared.set_faults(faults);
    let _ = s
        .mailbox
        .events
        .send(r#"{"type":"faults","id":null}"#.to_owned());
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

async fn faults(State(s): S) -> Json<Value> {
    let rules = lock(&s.rules).clone();
    Json(json!({ "faults": rules }))
}

async fn add_fault(
    State(s): S,
    body: Result<Json<RuleRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Json(req) = body.map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.body_text()))?;
    let id = {
        let mut n = lock(&s.next_rule);
        let id = *n;
        *n += 1;
        id
    };
    let rule = req
        .into_rule(id, s.shared.connection_count() + 1)
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, e))?;
    let value = json!(rule);
    let mut rules = lock(&s.rules);
    rules.push(rule);
    apply_rules(&s, &rules);
    Ok((StatusCode::CREATED, Json(value)))
}

async fn clear_faults(State(s): S) -> Json<Value> {
    let mut rules = lock(&s.rules);
    let n = rules.len();
    rules.clear();
    apply_rules(&s, &rules);
    Json(json!({ "deleted": n }))
}

async fn delete_fault(State(s): S, Path(id): Path<u64>) -> Result<Json<Value>, ApiError> {
    let mut rules = lock(&s.rules);
    let before = rules.len();
    rules.retain(|r| r.id != id);
    if rules.len() == before {
        return Err(not_found("fault rule"));
    }
    apply_rules(&s, &rules);
    Ok(Json(json!({ "deleted": 1 })))
}

async fn events(
    State(s): S,
) -> Sse<impl futures_util::Stream<Item = Result<SseEvent, Infallible>>> {
    let rx = s.mailbox.events.subscribe();
    let stop = s.stop.clone();
    let stream = futures_util::stream::unfold((rx, stop), |(mut rx, mut stop)| async move {
        loop {
            if *stop.borrow() {
                return None;
            }
            tokio::select! {
                _ = stop.changed() => return None,
                got = rx.recv() => match got {
                    Ok(text) => return Some((Ok(SseEvent::default().data(text)), (rx, stop))),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                },
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
