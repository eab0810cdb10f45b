//! The `username` plugin's error codes (Better Auth's).

use crate::error::ErrorCode;

macro_rules! codes {
    ($($name:ident = ($status:expr, $message:expr);)*) => {
        $(pub const $name: ErrorCode = ErrorCode { code: stringify!($name), message: $message, status: $status };)*
        pub const ALL: &[ErrorCode] = &[$($name),*];
    };
}

codes! {
    INVALID_USERNAME_OR_PASSWORD = (401, "Invalid username or password");
    USERNAME_IS_ALREADY_TAKEN = (400, "Username is already taken. Please try another.");
    USERNAME_TOO_SHORT = (422, "Username is too short");
    USERNAME_TOO_LONG = (422, "Username is too long");
    INVALID_USERNAME = (422, "Username is invalid");
    INVALID_DISPLAY_USERNAME = (422, "Display username is invalid");
}
