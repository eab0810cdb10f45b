//! The built-in plugins: one folder each, declared on one line each below.
//! Everything a plugin adds (routes, tables, settings, cookies, mails,
//! hooks) lives in its folder; the machinery is in [`crate::plugin`].

crate::declare_plugins! {
    bearer: Bearer,
    username: Username => UsernameApi,
    open_api: OpenApiPlugin,
    magic_link: MagicLink => MagicLinkApi,
    email_otp: EmailOtp => EmailOtpApi,
    two_factor: TwoFactor => TwoFactorApi,
    passkey: Passkey => PasskeyApi,
    admin: Admin => AdminApi,
    organization: Organization => OrganizationApi,
    jwt: Jwt => JwtApi,
    multi_session: MultiSession => MultiSessionApi,
    anonymous: Anonymous => AnonymousApi,
    api_key: ApiKeyPlugin => ApiKeyApi,
    phone_number: PhoneNumber => PhoneNumberApi,
    generic_oauth: GenericOAuth,
    oauth_provider: OAuthProvider => OAuthProviderApi,
}
