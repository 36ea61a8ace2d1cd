//! The agent card (`GET /.well-known/agent-card.json`): what the swarm can do, as A2A skills.
//!
//! One skill takes any task; one more per capability that a registered, not deregistered agent
//! offers, so a client can see which `required_capabilities` will find bidders. The registry is read
//! through the client and kept for [`CARD_REFRESH_MS`](super::CARD_REFRESH_MS).
//!
//! The card is public even when the gateway requires a token: A2A clients read it first, to learn
//! where to send requests and how to authenticate (its security scheme). With a token, the public
//! card offers only the generic skill: which capabilities the swarm has, how many agents offer each
//! and under which roles is a map of the swarm for whoever asks, so it is given to callers with the
//! token only, as the extended card (`GetExtendedAgentCard`, and `extendedAgentCard: true`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use colony_wire::views::AgentView;
use serde_json::{Value, json};

use super::protocol::PROTOCOL_VERSION;
use super::rpc::RpcError;
use super::{Gateway, auth};

/// The skills last read from the registry, and when.
pub struct CachedSkills {
    read_at: Instant,
    skills: Vec<Value>,
}

/// A capability and the roles of the agents that offer it.
type Offers = BTreeMap<String, (usize, Vec<String>)>;

/// `GET /.well-known/agent-card.json`.
pub async fn agent_card(State(gateway): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    let url = interface_url(&gateway, &headers);
    if gateway.token.is_some() {
        return Json(card(&gateway, &url, vec![any_task_skill()])).into_response();
    }
    match skills(&gateway).await {
        Ok(skills) => Json(card(&gateway, &url, skills)).into_response(),
        Err(error) => {
            let status = axum::http::StatusCode::BAD_GATEWAY;
            (status, format!("the swarm's registry could not be read: {error}\n")).into_response()
        }
    }
}

/// The JSON-RPC method `GetExtendedAgentCard` (behind the token when there is one): the card with a
/// skill per capability offered.
pub async fn extended_card(gateway: &Gateway, headers: &HeaderMap) -> Result<Value, RpcError> {
    let skills = skills(gateway).await.map_err(|error| {
        RpcError::new(RpcError::INTERNAL_ERROR, format!("the swarm's registry could not be read: {error}"))
    })?;
    Ok(card(gateway, &interface_url(gateway, headers), skills))
}

/// The URL clients post JSON-RPC requests to: `--public-url` if given, else this host as the
/// request reached it.
fn interface_url(gateway: &Gateway, headers: &HeaderMap) -> String {
    if let Some(url) = &gateway.public_url {
        return url.clone();
    }
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|value| value.to_str().ok())
        .map_or_else(|| gateway.listen.to_string(), str::to_owned);
    format!("http://{host}/")
}

/// The card itself, in the A2A v1 `AgentCard` shape; with a token, its HTTP bearer scheme as the one
/// requirement (A2A's `securitySchemes` and `securityRequirements`).
fn card(gateway: &Gateway, url: &str, skills: Vec<Value>) -> Value {
    let mut card = json!({
        "name": format!("Colony swarm ({})", gateway.agent),
        "description": format!(
            "Hands work to a Colony swarm: each message announces a task in the swarm's market, agents \
             with the capabilities bid, the best bid wins and is paid from escrow once its result is \
             verified. Tasks are announced and paid by the agent {}.",
            gateway.agent
        ),
        "supportedInterfaces": [{ "url": url, "protocolBinding": "JSONRPC", "protocolVersion": PROTOCOL_VERSION }],
        "version": env!("CARGO_PKG_VERSION"),
        "capabilities": {
            "streaming": true,
            "pushNotifications": false,
            "extendedAgentCard": gateway.token.is_some(),
        },
        "defaultInputModes": ["application/json", "text/plain"],
        "defaultOutputModes": ["application/json"],
        "skills": skills,
    });
    if gateway.token.is_some() {
        card["securitySchemes"] = json!({ (auth::SCHEME_NAME): { "httpAuthSecurityScheme": {
            "scheme": "Bearer",
            "description": "The token this gateway's operator gave you, as 'Authorization: Bearer <token>' on \
                every JSON-RPC request. The card itself is public.",
        }}});
        card["securityRequirements"] = json!([{ "schemes": { (auth::SCHEME_NAME): { "list": [] } } }]);
    }
    card
}

/// The skills, from the cache while it is fresh.
async fn skills(gateway: &Gateway) -> Result<Vec<Value>, colony_client::ClientError> {
    let mut cache = gateway.card_cache.lock().await;
    if let Some(cached) = cache.as_ref().filter(|cached| cached.read_at.elapsed() < refresh()) {
        return Ok(cached.skills.clone());
    }
    let agents = gateway.client.all_agents().await?;
    let skills = skills_of(&agents);
    *cache = Some(CachedSkills { read_at: Instant::now(), skills: skills.clone() });
    Ok(skills)
}

fn refresh() -> Duration {
    Duration::from_millis(super::CARD_REFRESH_MS)
}

/// The generic skill, then one per capability offered, by name.
pub fn skills_of(agents: &[AgentView]) -> Vec<Value> {
    let mut offers = Offers::new();
    for agent in agents.iter().filter(|agent| agent.status != "deregistered") {
        for capability in &agent.capabilities {
            let (count, roles) = offers.entry(capability.to_string()).or_default();
            *count += 1;
            let role = agent.role.to_string();
            if !roles.contains(&role) {
                roles.push(role);
            }
        }
    }
    let any_task = any_task_skill();
    let by_capability = offers.into_iter().map(|(capability, (count, mut roles))| {
        roles.sort();
        let mut tags = vec![capability.clone()];
        tags.extend(roles.iter().cloned());
        json!({
            "id": capability,
            "name": capability,
            "description": format!(
                "Work that needs {capability}: {count} registered agents offer it (roles {}). \
                 Name it in required_capabilities.",
                roles.join(", ")
            ),
            "tags": tags,
            "examples": [format!(
                r#"{{"kind":"analyze","max_cost":"1000","deadline_ms":600000,"required_capabilities":["{capability}"]}}"#
            )],
        })
    });
    std::iter::once(any_task).chain(by_capability).collect()
}

/// The skill that takes any task.
fn any_task_skill() -> Value {
    json!({
        "id": "colony.task",
        "name": "Any task",
        "description": "Announce a task to the swarm's market. The message's data part (or metadata) holds the \
            terms: kind, max_cost (minor units), deadline_ms, and optionally required_capabilities, \
            bid_window_ms and any other field of task.announce; its text or other data is the payload.",
        "tags": ["colony", "task-market"],
        "examples": [r#"{"kind":"analyze","max_cost":"1000","deadline_ms":600000}"#],
    })
}
