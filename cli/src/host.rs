//! What the CLI shows of other users' port claims on this host: `list
//! --host`, and the lines `who PORT` and `conflicts` add for them (core
//! finds them: `Who::host_claims`, `Conflict::claimed_by`).

use portreg_core::{Conflict, HostClaim, Registry};

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

/// The lines `conflicts` adds for entries whose port another user's live
/// claim holds.
pub fn print_clashes(conflicts: &[Conflict]) {
    for c in conflicts.iter().filter(|c| !c.claimed_by.is_empty()) {
        let e = &c.entry;
        let users: Vec<&str> = c.claimed_by.iter().map(|c| c.user.as_str()).collect();
        println!(
            "port {}: {} ({}) but also leased by another user of this host: {}",
            e.port,
            e.name,
            e.state.as_str(),
            users.join(", ")
        );
    }
}
