//! The `api-key` plugin's error codes: Better Auth's (`API_KEY_ERROR_CODES`,
//! messages verbatim), then `RATE_LIMITED`, the code of a key's own rate
//! limit. Where Better Auth answers one code with several statuses, the
//! status here is the usual one and the others are set where they occur.

crate::error_codes! {
    INVALID_METADATA_TYPE = (400, "metadata must be an object or undefined");
    REFILL_AMOUNT_AND_INTERVAL_REQUIRED = (400, "refillAmount is required when refillInterval is provided");
    REFILL_INTERVAL_AND_AMOUNT_REQUIRED = (400, "refillInterval is required when refillAmount is provided");
    USER_BANNED = (401, "User is banned");
    UNAUTHORIZED_SESSION = (401, "Unauthorized or invalid session");
    KEY_NOT_FOUND = (404, "API Key not found");
    KEY_DISABLED = (401, "API Key is disabled");
    KEY_EXPIRED = (401, "API Key has expired");
    USAGE_EXCEEDED = (429, "API Key has reached its usage limit");
    KEY_NOT_RECOVERABLE = (400, "API Key is not recoverable");
    EXPIRES_IN_IS_TOO_SMALL = (400, "The expiresIn is smaller than the predefined minimum value.");
    EXPIRES_IN_IS_TOO_LARGE = (400, "The expiresIn is larger than the predefined maximum value.");
    INVALID_REMAINING = (400, "The remaining count is either too large or too small.");
    INVALID_PREFIX_LENGTH = (400, "The prefix length is either too large or too small.");
    INVALID_NAME_LENGTH = (400, "The name length is either too large or too small.");
    METADATA_DISABLED = (400, "Metadata is disabled.");
    RATE_LIMIT_EXCEEDED = (429, "Rate limit exceeded.");
    NO_VALUES_TO_UPDATE = (400, "No values to update.");
    KEY_DISABLED_EXPIRATION = (400, "Custom key expiration values are disabled.");
    INVALID_API_KEY = (401, "Invalid API key.");
    INVALID_USER_ID_FROM_API_KEY = (401, "The user id from the API key is invalid.");
    INVALID_REFERENCE_ID_FROM_API_KEY = (401, "The reference id from the API key is invalid.");
    SERVER_ONLY_PROPERTY = (400, "The property you're trying to set can only be set from the server auth instance only.");
    FAILED_TO_UPDATE_API_KEY = (500, "Failed to update API key");
    NAME_REQUIRED = (400, "API Key name is required.");
    ORGANIZATION_ID_REQUIRED = (400, "Organization ID is required for organization-owned API keys.");
    USER_NOT_MEMBER_OF_ORGANIZATION = (403, "You are not a member of the organization that owns this API key.");
    INSUFFICIENT_API_KEY_PERMISSIONS = (403, "You do not have permission to perform this action on organization API keys.");
    NO_DEFAULT_API_KEY_CONFIGURATION_FOUND = (400, "No default api-key configuration found.");
    ORGANIZATION_PLUGIN_REQUIRED = (500, "Organization plugin is required for organization-owned API keys. Please install and configure the organization plugin.");
    RATE_LIMITED = (429, "Rate limit exceeded.");
}
