//! What the CLI shows of other users' port claims on this host: `list
//! --host`, the claims `who PORT` names, and the clashes `conflicts` adds.

use portreg_core::{Entry, HostClaim, Registry, State};
use serde_json::{json, Value};

fn alive_word(c: &HostClaim) -> &'static str {
    match (c.alive, c.honoured) {
        (true, true) => "alive",
        (true, false) => "alive, beyond its user's cap (ignored)",
        (false, _) => "dead (ignored)",
    }
}

fn user_word(c: &HostClaim) -> String {
    if c.mine {
        format!("{} (you)", c.user)
    } else {
        c.user.clone()
    }
}

/// `list --host`: every claim on the host, as a table or JSON. True when
/// there is at least one.
pub fn list(reg: &Registry, json: bool) -> portreg_core::Result<bool> {
    let claims = reg.host_claims()?;
    if json {
        crate::output::print_json(&claims);
    } else if claims.is_empty() {
        eprintln!("portreg: no port claims on this host");
    } else {
        println!("{:<6} {:<24} HOLDER", "PORT", "USER");
        for c in &claims {
            println!("{:<6} {:<24} {}", c.port, user_word(c), alive_word(c));
        }
    }
    Ok(!claims.is_empty())
}

/// Other users' claims on `port`.
pub fn others_on(reg: &Registry, port: u16) -> portreg_core::Result<Vec<HostClaim>> {
    let mut claims = reg.host_claims()?;
    claims.retain(|c| c.port == port && !c.mine);
    Ok(claims)
}

/// The lines `who` adds for other users' claims.
pub fn print_others(claims: &[HostClaim]) {
    for c in claims {
        println!(
            "  other user: {} (uid {}) leased it; holder {}",
            c.user,
            c.uid,
            alive_word(c)
        );
    }
}

/// `who --json` with `host_claims` added when other users claim the port.
pub fn who_json(who: &impl serde::Serialize, claims: &[HostClaim]) -> Value {
    let mut v = serde_json::to_value(who).unwrap_or(Value::Null);
    if let (Value::Object(map), false) = (&mut v, claims.is_empty()) {
        map.insert("host_claims".into(), json!(claims));
    }
    v
}

/// Your active or reserved entries whose port another user's live claim
/// holds: their next lease cannot have it.
pub fn clashes(reg: &Registry) -> portreg_core::Result<Vec<(Entry, Vec<HostClaim>)>> {
    let claims = reg.host_claims()?;
    if !claims.iter().any(|c| !c.mine && c.alive && c.honoured) {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for e in reg.list()? {
        if e.state == State::Idle {
            continue;
        }
        let on: Vec<HostClaim> = claims
            .iter()
            .filter(|c| c.port == e.port && !c.mine && c.alive && c.honoured)
            .cloned()
            .collect();
        if !on.is_empty() {
            out.push((e, on));
        }
    }
    Ok(out)
}

pub fn print_clashes(clashes: &[(Entry, Vec<HostClaim>)]) {
    for (e, claims) in clashes {
        let users: Vec<&str> = claims.iter().map(|c| c.user.as_str()).collect();
        println!(
            "port {}: {} ({}) but also leased by another user of this host: {}",
            e.port,
            e.name,
            e.state.as_str(),
            users.join(", ")
        );
    }
}

/// `conflicts --json`: the listener conflicts, then one object per clash
/// with `claimed_by` (and no listeners).
pub fn conflicts_json(
    conflicts: &impl serde::Serialize,
    clashes: &[(Entry, Vec<HostClaim>)],
) -> Value {
    let mut v = serde_json::to_value(conflicts).unwrap_or(Value::Null);
    if let Value::Array(items) = &mut v {
        for (e, claims) in clashes {
            items.push(json!({"entry": e, "listeners": [], "claimed_by": claims}));
        }
    }
    v
}
