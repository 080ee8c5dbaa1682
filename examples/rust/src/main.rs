// Get a token from credgate with the client credentials grant, then read one user with it.
// Needs: Rust 1.63 or newer; crates ureq 2 (feature native-tls), native-tls 0.2, serde_json 1.

use std::env;
use std::fs;
use std::process::exit;
use std::sync::Arc;
use std::time::Duration;

fn main() {
    let base_url = env_or("CREDGATE_URL", "https://credgate.example"); // credgate:base-url
    let client_id = env_or("CLIENT_ID", "your-client-id"); // credgate:client-id
    let secret = required("CLIENT_SECRET");
    let user_id = required("USER_ID");
    let agent = agent();

    // Form fields (client_secret_post); ureq form-encodes them.
    let token_response = agent.post(&format!("{base_url}/oauth/token")).send_form(&[
        ("grant_type", "client_credentials"),
        ("client_id", &client_id),
        ("client_secret", &secret),
    ]);
    let token_body = read("token request failed", token_response);
    let answer: serde_json::Value =
        serde_json::from_str(&token_body).unwrap_or_else(|error| fail(&error.to_string()));
    let token = answer["access_token"]
        .as_str()
        .unwrap_or_else(|| fail("the token answer has no access_token"));

    let user_url = format!("{base_url}/api/users/{}", urlencoded(&user_id));
    let user_response = agent
        .get(&user_url)
        .set("Authorization", &format!("Bearer {token}"))
        .call();
    println!("{}", read("API call failed", user_response));
}

// A private CA (such as credgate's development one) is trusted when CREDGATE_CA names it:
// it becomes the only trust anchor of the TLS connector.
fn agent() -> ureq::Agent {
    let builder = ureq::AgentBuilder::new().timeout(Duration::from_secs(10));
    let ca_file = match env::var("CREDGATE_CA") {
        Ok(ca_file) if !ca_file.is_empty() => ca_file,
        _ => return builder.build(),
    };
    let pem = fs::read(&ca_file).unwrap_or_else(|error| fail(&error.to_string()));
    let ca = native_tls::Certificate::from_pem(&pem)
        .unwrap_or_else(|error| fail(&error.to_string()));
    let connector = native_tls::TlsConnector::builder()
        .disable_built_in_roots(true)
        .add_root_certificate(ca)
        .build()
        .unwrap_or_else(|error| fail(&error.to_string()));
    builder.tls_connector(Arc::new(connector)).build()
}

fn read(context: &str, response: Result<ureq::Response, ureq::Error>) -> String {
    match response {
        Ok(response) => response.into_string().unwrap_or_else(|error| fail(&error.to_string())),
        Err(ureq::Error::Status(status, response)) => {
            let body = response.into_string().unwrap_or_default();
            fail(&format!("{context}: {status} {body}"))
        }
        Err(error) => fail(&format!("{context}: {error}")),
    }
}

fn urlencoded(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

fn env_or(name: &str, fallback: &str) -> String {
    env::var(name).ok().filter(|value| !value.is_empty()).unwrap_or(fallback.to_string())
}

fn required(name: &str) -> String {
    env::var(name)
        .ok()
        .filter(|value| !value.is_empty())
        .unwrap_or_else(|| fail(&format!("set {name}")))
}

fn fail(message: &str) -> ! {
    eprintln!("{message}");
    exit(1)
}
