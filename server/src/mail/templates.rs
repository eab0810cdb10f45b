//! Message templates: a subject, a plain-text body that always carries the
//! absolute link (or the code) on a line of its own, and an HTML body.
//! Placeholders: `{app}`, `{url}`, `{email}`. Overridable per kind in config.

use crate::config::MailTemplate;

pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn fill(template: &str, app: &str, url: &str, email: &str, escape: bool) -> String {
    let (app, url, email) = if escape {
        (html_escape(app), html_escape(url), html_escape(email))
    } else {
        (app.to_string(), url.to_string(), email.to_string())
    };
    template
        .replace("{app}", &app)
        .replace("{url}", &url)
        .replace("{email}", &email)
}

pub fn verify_email_default() -> MailTemplate {
    MailTemplate {
        subject: "Verify your email for {app}".into(),
        text: "Confirm your email address for {app} by opening this link:\n\n{url}\n\nIf you did not ask for this, ignore this message.\n".into(),
        html: "<p>Confirm your email address for {app}:</p><p><a href=\"{url}\">Verify email</a></p><p>If you did not ask for this, ignore this message.</p>".into(),
    }
}

pub fn reset_password_default() -> MailTemplate {
    MailTemplate {
        subject: "Reset your password for {app}".into(),
        text: "Someone asked to reset the password of your {app} account. To choose a new one, open:\n\n{url}\n\nIf it was not you, ignore this message; your password stays as it is.\n".into(),
        html: "<p>Someone asked to reset the password of your {app} account.</p><p><a href=\"{url}\">Choose a new password</a></p><p>If it was not you, ignore this message.</p>".into(),
    }
}

pub fn delete_account_default() -> MailTemplate {
    MailTemplate {
        subject: "Confirm deleting your {app} account".into(),
        text: "To delete your {app} account ({email}) for good, open this link while signed in:\n\n{url}\n\nIf you did not ask for this, ignore this message and change your password.\n".into(),
        html: "<p>To delete your {app} account ({email}) for good, open this link while signed in:</p><p><a href=\"{url}\">Delete my account</a></p><p>If you did not ask for this, ignore this message.</p>".into(),
    }
}

pub fn change_email_confirm_default() -> MailTemplate {
    MailTemplate {
        subject: "Confirm changing your {app} email".into(),
        text: "Someone asked to change the email of your {app} account to {email}. To approve, open:\n\n{url}\n\nIf it was not you, ignore this message and change your password.\n".into(),
        html: "<p>Someone asked to change the email of your {app} account to {email}.</p><p><a href=\"{url}\">Approve the change</a></p><p>If it was not you, ignore this message.</p>".into(),
    }
}

pub fn magic_link_default() -> MailTemplate {
    MailTemplate {
        subject: "Sign in to {app}".into(),
        text: "Open this link to sign in to {app} as {email}:\n\n{url}\n\nIt works once and expires soon. If you did not ask for it, ignore this message.\n".into(),
        html: "<p>Sign in to {app} as {email}:</p><p><a href=\"{url}\">Sign in</a></p><p>The link works once and expires soon.</p>".into(),
    }
}

/// `{url}` is the code itself here.
pub fn email_otp_default() -> MailTemplate {
    MailTemplate {
        subject: "Your {app} code".into(),
        text: "Your {app} code:\n\n{url}\n\nIt expires in a few minutes. If you did not ask for it, ignore this message.\n".into(),
        html: "<p>Your {app} code:</p><p style=\"font-size:24px;letter-spacing:4px\"><b>{url}</b></p><p>It expires in a few minutes.</p>".into(),
    }
}

/// `{url}` is the code itself here.
pub fn two_factor_otp_default() -> MailTemplate {
    MailTemplate {
        subject: "Your {app} sign-in code".into(),
        text: "Your {app} verification code:\n\n{url}\n\nIt expires in a few minutes. If you did not try to sign in, change your password.\n".into(),
        html: "<p>Your {app} verification code:</p><p style=\"font-size:24px;letter-spacing:4px\"><b>{url}</b></p><p>It expires in a few minutes. If you did not try to sign in, change your password.</p>".into(),
    }
}

pub fn render(t: &MailTemplate, app: &str, url: &str, email: &str) -> Rendered {
    Rendered {
        subject: fill(&t.subject, app, url, email, false),
        text: fill(&t.text, app, url, email, false),
        html: fill(&t.html, app, url, email, true),
    }
}
