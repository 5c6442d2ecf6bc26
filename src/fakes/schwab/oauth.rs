//! The fake's OAuth: 30-second single-use authorization codes bound to
//! the registered callback, 30-minute access tokens and 7-day refresh
//! lineages whose refresh token rotates on every refresh (an old one is
//! refused with Schwab's doubly wrapped body).

use super::faults::{FaultRoute, PlaceFault, fault_outcome};
use super::{
    ACCESS_LIFETIME, CODE_LIFETIME, FAKE_APP_KEY, FAKE_APP_SECRET, FAKE_CALLBACK, State, respond,
};
use crate::fakes::http::{Outcome, Request, Response, pairs};
use crate::model::Timestamp;
use crate::net::base64;
use serde_json::{Value, json};

pub(super) struct Code {
    pub(super) issued_at: Timestamp,
    pub(super) redirect_uri: String,
    pub(super) used: bool,
}

pub(super) struct Lineage {
    pub(super) created_at: Timestamp,
    pub(super) current_refresh: String,
}

pub(super) struct Access {
    pub(super) issued_at: Timestamp,
    pub(super) revoked: bool,
}

pub(super) fn oauth_error(status: u16, error: &str, description: &str) -> Outcome {
    respond(Response::json(
        status,
        &json!({"error": error, "error_description": description}),
    ))
}

impl State {
    pub(super) fn authorize(&mut self, q: &[(String, String)]) -> Result<String, String> {
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        if get("client_id").as_deref() != Some(FAKE_APP_KEY) {
            return Err("unknown client_id".into());
        }
        let redirect = get("redirect_uri").ok_or("missing redirect_uri")?;
        if redirect != FAKE_CALLBACK {
            return Err("redirect_uri does not match the registered callback".into());
        }
        let n = self.next_id();
        let code = format!("C0.b2F1dGgyLmJkYy5zY2h3YWIuY29t.fake{n}-Xq7_Lm9@");
        self.codes.insert(
            code.clone(),
            Code {
                issued_at: self.now(),
                redirect_uri: redirect.clone(),
                used: false,
            },
        );
        let mut to =
            reqwest::Url::parse(&format!("{redirect}/")).map_err(|_| "bad redirect".to_string())?;
        to.query_pairs_mut()
            .append_pair("code", &code)
            .append_pair("session", &format!("46b905a8-cd91-4f55-9e20-{n:012}"));
        if let Some(state) = get("state") {
            to.query_pairs_mut().append_pair("state", &state);
        }
        Ok(to.to_string())
    }

    pub(super) fn issue(&mut self, lineage: usize) -> Value {
        let n = self.next_id();
        let access = format!("I0.b2F1dGgyLmNkYy5zY2h3YWIuY29t.access{n}-Kz3_Vq@");
        let refresh = format!("R0.b2F1dGgyLmNkYy5zY2h3YWIuY29t.refresh{n}-Wp8_Jd@");
        self.access.insert(
            access.clone(),
            Access {
                issued_at: self.now(),
                revoked: false,
            },
        );
        self.refresh_tokens.insert(refresh.clone(), lineage);
        self.lineages[lineage].current_refresh = refresh.clone();
        json!({
            "expires_in": 1800, "token_type": "Bearer", "scope": "api",
            "refresh_token": refresh, "access_token": access,
            "id_token": format!("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.fake{n}.sig")
        })
    }

    pub(super) fn token(&mut self, r: &Request) -> Outcome {
        let expected = format!(
            "Basic {}",
            base64(format!("{FAKE_APP_KEY}:{FAKE_APP_SECRET}").as_bytes())
        );
        if r.header("authorization") != Some(expected.as_str()) {
            return oauth_error(401, "invalid_client", "Client authentication failed");
        }
        if r.header("content-type") != Some("application/x-www-form-urlencoded") {
            return oauth_error(
                400,
                "invalid_request",
                "Content-Type must be application/x-www-form-urlencoded",
            );
        }
        // Only order POSTs meet a fault after acting; a token call's are before.
        if let Some(PlaceFault::Before(f)) = self.fault_for(FaultRoute::Token) {
            return fault_outcome(f);
        }
        let form = pairs(&String::from_utf8_lossy(&r.body));
        let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let now = self.now();
        match get("grant_type").as_deref() {
            Some("authorization_code") => {
                let code = get("code").unwrap_or_default();
                let redirect = get("redirect_uri").unwrap_or_default();
                let Some(c) = self.codes.get_mut(&code) else {
                    return oauth_error(400, "invalid_grant", "unknown authorization code");
                };
                if c.used || now >= c.issued_at + CODE_LIFETIME {
                    return oauth_error(400, "invalid_grant", "authorization code expired or used");
                }
                if c.redirect_uri != redirect {
                    return oauth_error(400, "invalid_grant", "redirect_uri mismatch");
                }
                c.used = true;
                self.lineages.push(Lineage {
                    created_at: now,
                    current_refresh: String::new(),
                });
                self.grants.push("authorization_code".into());
                let body = self.issue(self.lineages.len() - 1);
                respond(Response::json(200, &body))
            }
            Some("refresh_token") => {
                let token = get("refresh_token").unwrap_or_default();
                let lineage = self.refresh_tokens.get(&token).copied();
                let valid = lineage.is_some_and(|l| {
                    self.lineages[l].current_refresh == token
                        && now < self.lineages[l].created_at + self.refresh_lifetime
                });
                let Some(l) = lineage.filter(|_| valid) else {
                    // The real doubly wrapped body (§1.8).
                    return oauth_error(
                        400,
                        "unsupported_token_type",
                        "400 Bad Request: \"{\"error_description\":\"Exception while authenticating refresh token [tokenDigest=R8QKLpffOFVUJuvqbJ0\\/1RNzqtrrnXrtTqQ6bCiRCMw=, Exception=Failed refresh token authentication [tokenDigest=R8QKLpffOFVUJuvqbJ0\\/1RNzqtrrnXrtTqQ6bCiRCMw=]]\",\"error\":\"refresh_token_authentication_error\"}\"",
                    );
                };
                self.grants.push("refresh_token".into());
                let body = self.issue(l);
                respond(Response::json(200, &body))
            }
            _ => oauth_error(400, "unsupported_grant_type", "grant_type"),
        }
    }

    pub(super) fn bearer_ok(&self, r: &Request) -> bool {
        let Some(token) = r
            .header("authorization")
            .and_then(|a| a.strip_prefix("Bearer "))
        else {
            return false;
        };
        self.access
            .get(token)
            .is_some_and(|a| !a.revoked && self.now() < a.issued_at + ACCESS_LIFETIME)
    }
}
