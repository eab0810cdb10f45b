//! Diesel table definitions shared by both backends. Column names follow
//! Better Auth's camelCase schema; Rust names are snake_case. Columns a
//! plugin adds to a core table are declared in that plugin's `store`.

diesel::table! {
    #[sql_name = "user"]
    users (id) {
        id -> Text,
        name -> Text,
        email -> Text,
        #[sql_name = "emailVerified"]
        email_verified -> Bool,
        image -> Nullable<Text>,
        #[sql_name = "createdAt"]
        created_at -> Timestamp,
        #[sql_name = "updatedAt"]
        updated_at -> Timestamp,
    }
}

diesel::table! {
    #[sql_name = "session"]
    sessions (id) {
        id -> Text,
        #[sql_name = "expiresAt"]
        expires_at -> Timestamp,
        #[sql_name = "token"]
        token_hash -> Text,
        #[sql_name = "createdAt"]
        created_at -> Timestamp,
        #[sql_name = "updatedAt"]
        updated_at -> Timestamp,
        #[sql_name = "ipAddress"]
        ip_address -> Nullable<Text>,
        #[sql_name = "userAgent"]
        user_agent -> Nullable<Text>,
        #[sql_name = "userId"]
        user_id -> Text,
    }
}

diesel::table! {
    #[sql_name = "account"]
    accounts (id) {
        id -> Text,
        #[sql_name = "accountId"]
        account_id -> Text,
        #[sql_name = "providerId"]
        provider_id -> Text,
        #[sql_name = "userId"]
        user_id -> Text,
        #[sql_name = "accessToken"]
        access_token -> Nullable<Text>,
        #[sql_name = "refreshToken"]
        refresh_token -> Nullable<Text>,
        #[sql_name = "idToken"]
        id_token -> Nullable<Text>,
        #[sql_name = "accessTokenExpiresAt"]
        access_token_expires_at -> Nullable<Timestamp>,
        #[sql_name = "refreshTokenExpiresAt"]
        refresh_token_expires_at -> Nullable<Timestamp>,
        scope -> Nullable<Text>,
        password -> Nullable<Text>,
        #[sql_name = "createdAt"]
        created_at -> Timestamp,
        #[sql_name = "updatedAt"]
        updated_at -> Timestamp,
    }
}

diesel::table! {
    #[sql_name = "verification"]
    verifications (id) {
        id -> Text,
        identifier -> Text,
        value -> Text,
        #[sql_name = "expiresAt"]
        expires_at -> Timestamp,
        #[sql_name = "createdAt"]
        created_at -> Timestamp,
        #[sql_name = "updatedAt"]
        updated_at -> Timestamp,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(accounts -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(users, sessions, accounts, verifications);
