//! The `phone-number` plugin's error codes (Better Auth's).

use crate::error::ErrorCode;

crate::error_codes! {
    INVALID_PHONE_NUMBER = (400, "Invalid phone number");
    PHONE_NUMBER_EXIST = (400, "Phone number already exists");
    PHONE_NUMBER_NOT_EXIST = (400, "phone number isn't registered");
    INVALID_PHONE_NUMBER_OR_PASSWORD = (401, "Invalid phone number or password");
    UNEXPECTED_ERROR = (400, "Unexpected error");
    OTP_NOT_FOUND = (400, "OTP not found");
    PHONE_NUMBER_NOT_VERIFIED = (401, "Phone number not verified");
    PHONE_NUMBER_PENDING_VERIFICATION = (400, "Phone number requires account ownership proof");
    PHONE_NUMBER_CANNOT_BE_UPDATED = (400, "Phone number cannot be updated");
    PHONE_NUMBER_CANNOT_BE_SET = (400, "Phone number can only be set by verifying it");
    SEND_OTP_NOT_IMPLEMENTED = (501, "sendOTP not implemented");
}

// Better Auth's phone-number plugin shares these three with email-otp, which
// registers them (same code, message and status); the registry takes each
// code once, so they are not in `ALL`.
pub const INVALID_OTP: ErrorCode = ErrorCode {
    code: "INVALID_OTP",
    message: "Invalid OTP",
    status: 400,
};
pub const OTP_EXPIRED: ErrorCode = ErrorCode {
    code: "OTP_EXPIRED",
    message: "OTP expired",
    status: 400,
};
pub const TOO_MANY_ATTEMPTS: ErrorCode = ErrorCode {
    code: "TOO_MANY_ATTEMPTS",
    message: "Too many attempts",
    status: 403,
};
