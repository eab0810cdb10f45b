//! Every `Location` is built by one function: parsed, the query placed
//! before any fragment, and written in normalised form.

use gatehouse_tests::smtp::SmtpSink;
use gatehouse_tests::{on_both_backends, Backend, TestServer};

on_both_backends!(locations_are_parsed_and_normalised);

async fn locations_are_parsed_and_normalised(b: Backend) {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let s = TestServer::start_with(b, move |c| {
        c.mail.smtp_url = Some(url);
        c.plugins.push("magic-link".into());
    })
    .await;
    let location = |r: &gatehouse_tests::Response| {
        assert_eq!(r.status, 302, "{}", r.text);
        r.header("location").expect("a Location header")
    };

    // A raw backslash never reaches the header: the normalised URL does.
    let host = s.origin.trim_start_matches("http://");
    let tricky = format!("http://{host}\\@evil.com");
    let r = s
        .client()
        .get(&format!(
            "/verify-email?token=nope&callbackURL={}",
            urlencoding(&tricky)
        ))
        .await;
    let loc = location(&r);
    assert_eq!(loc, format!("http://{host}/@evil.com?error=INVALID_TOKEN"));

    // The error goes into the query, before the fragment.
    let r = s
        .client()
        .get("/verify-email?token=nope&callbackURL=/ok%23x")
        .await;
    assert_eq!(location(&r), "/ok?error=INVALID_TOKEN#x");
    let r = s
        .client()
        .get("/magic-link/verify?token=nope&errorCallbackURL=%2Foops%3Fa%3D1%23frag")
        .await;
    assert_eq!(location(&r), "/oops?a=1&error=INVALID_TOKEN#frag");

    // The password-reset redirect goes through the same builder.
    let r = s
        .client()
        .get("/reset-password/nope?callbackURL=%2Freset%23top")
        .await;
    assert_eq!(
        location(&r),
        format!("{}/reset?error=INVALID_TOKEN#top", s.origin)
    );
}

fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
