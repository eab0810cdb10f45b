//! The `admin` plugin's error codes: Better Auth's, then Gatehouse's own
//! (runtime roles, the audit trail). Codes the core already declares
//! (`USER_NOT_FOUND`, `USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL`, ...) are reused from it.

crate::error_codes! {
    YOU_CANNOT_BAN_YOURSELF = (400, "You cannot ban yourself");
    YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE = (403, "You are not allowed to change users role");
    YOU_ARE_NOT_ALLOWED_TO_CREATE_USERS = (403, "You are not allowed to create users");
    YOU_ARE_NOT_ALLOWED_TO_LIST_USERS = (403, "You are not allowed to list users");
    YOU_ARE_NOT_ALLOWED_TO_LIST_USERS_SESSIONS = (403, "You are not allowed to list users sessions");
    YOU_ARE_NOT_ALLOWED_TO_BAN_USERS = (403, "You are not allowed to ban users");
    YOU_ARE_NOT_ALLOWED_TO_IMPERSONATE_USERS = (403, "You are not allowed to impersonate users");
    YOU_ARE_NOT_ALLOWED_TO_REVOKE_USERS_SESSIONS = (403, "You are not allowed to revoke users sessions");
    YOU_ARE_NOT_ALLOWED_TO_DELETE_USERS = (403, "You are not allowed to delete users");
    YOU_ARE_NOT_ALLOWED_TO_SET_USERS_PASSWORD = (403, "You are not allowed to set users password");
    BANNED_USER = (403, "You have been banned from this application");
    YOU_ARE_NOT_ALLOWED_TO_GET_USER = (403, "You are not allowed to get user");
    NO_DATA_TO_UPDATE = (400, "No data to update");
    YOU_ARE_NOT_ALLOWED_TO_UPDATE_USERS = (403, "You are not allowed to update users");
    YOU_CANNOT_REMOVE_YOURSELF = (400, "You cannot remove yourself");
    YOU_ARE_NOT_ALLOWED_TO_SET_NON_EXISTENT_VALUE = (400, "You are not allowed to set a non-existent role value");
    YOU_CANNOT_IMPERSONATE_ADMINS = (403, "You cannot impersonate admins");
    INVALID_ROLE_TYPE = (400, "Invalid role type");
    YOU_ARE_NOT_ALLOWED_TO_SET_USERS_EMAIL = (403, "You are not allowed to update users email");
    PASSWORD_CANNOT_BE_UPDATED_VIA_UPDATE_USER = (400, "Password cannot be updated through update-user. Use the set-user-password endpoint instead");
    USER_ID_CANNOT_BE_UPDATED = (400, "User id cannot be updated");
    NOT_IMPERSONATING = (400, "You are not impersonating anyone");
    ADMIN_SESSION_NOT_FOUND = (400, "Failed to find admin session");
    INVALID_PERMISSION_CHECK = (400, "invalid permission check. no permission(s) were passed.");
    YOU_ARE_NOT_ALLOWED_TO_CREATE_ROLES = (403, "You are not allowed to create roles");
    YOU_ARE_NOT_ALLOWED_TO_UPDATE_ROLES = (403, "You are not allowed to update roles");
    YOU_ARE_NOT_ALLOWED_TO_DELETE_ROLES = (403, "You are not allowed to delete roles");
    YOU_ARE_NOT_ALLOWED_TO_READ_ROLES = (403, "You are not allowed to read roles");
    ROLE_EXCEEDS_YOUR_PERMISSIONS = (403, "You cannot grant permissions you do not hold");
    ADMIN_ROLE_NOT_FOUND = (404, "Role not found");
    ADMIN_ROLE_ALREADY_EXISTS = (400, "A role with this name already exists");
    CANNOT_CHANGE_A_BUILT_IN_ROLE = (400, "Built-in roles are defined in the configuration and cannot be changed over HTTP");
    ADMIN_ROLE_IS_ASSIGNED = (400, "The role is assigned to users; give them another role first");
    INVALID_PERMISSION = (400, "The permission names an unknown resource or action");
    INVALID_ROLE_NAME = (400, "Role names are 1 to 64 letters, digits, '-' or '_'");
    TOO_MANY_ADMIN_ROLES = (400, "The maximum number of roles has been reached");
    YOU_ARE_NOT_ALLOWED_TO_LIST_AUDIT_LOGS = (403, "You are not allowed to list audit logs");
}
