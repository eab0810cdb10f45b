//! `uniffi-bindgen generate <library> -l kotlin -l swift -o <dir>`.
fn main() {
    uniffi::uniffi_bindgen_main()
}
