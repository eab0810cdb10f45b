// The Kotlin binding against live servers, on the JVM through JNA.
// args: <server with username+bearer> <server without plugins> <server with every plugin, on localhost>
// env: GATEHOUSE_BIN (to start a server late, for the retry check)
import dev.gatehouse.*
import kotlinx.coroutines.runBlocking

var passed = 0
var failed = 0

fun check(name: String, body: suspend () -> Unit) {
    try {
        runBlocking { body() }
        passed++
        println("ok - $name")
    } catch (e: Throwable) {
        failed++
        println("not ok - $name: $e")
    }
}

fun expect(cond: Boolean, what: String) {
    if (!cond) throw AssertionError(what)
}

/** An app-side store, as a Keystore-backed one would be. */
class MemoryStorage : TokenStorage {
    @Volatile var token: String? = null
    override fun load(): String? = token
    override fun save(token: String?) { this.token = token }
}

fun rand() = java.util.UUID.randomUUID().toString().replace("-", "").take(10)

suspend inline fun <reified E : Throwable> expectThrows(what: String, block: () -> Unit): E {
    try {
        block()
    } catch (e: Throwable) {
        if (e is E) return e
        throw AssertionError("$what: expected ${E::class.simpleName}, got $e")
    }
    throw AssertionError("$what: no error")
}

fun main(args: Array<String>) {
    val withUsername = args[0]
    val plain = args[1]
    val everything = args[2]
    val password = "kotlin-password-1"

    check("cross-language scenario through the typed core and username namespaces") {
        val storage = MemoryStorage()
        AuthClient(withUsername, listOf(ClientPlugin.USERNAME), storage).use { client ->
            val email = "kt-${rand()}@example.com"
            val name = "kt_${rand()}"
            val up = client.core().signUpEmail(
                SignUpEmailBody(name = "Kotlin", email = email.uppercase(), password = password, username = name),
            )
            expect(up.user.email == email, "email lower-cased: ${up.user.email}")
            expect(up.user.username == name, "username field: ${up.user.username}")
            expect(storage.token?.startsWith(up.token!!) == true, "token kept in the app's storage")
            expect(client.core().getSession(null, null)?.user?.username == name, "session after sign-up")
            client.core().signOut(null)
            expect(storage.token == null, "storage cleared on sign-out")
            expect(client.core().getSession(null, null) == null, "signed out")
            val signedIn = client.core().signInEmail(SignInEmailBody(email = email, password = password))
            val session = (signedIn as SignInResult.SignInResponse).value
            expect(client.core().getSession(null, null)?.session?.token == session.token, "session after sign-in")
            client.core().signOut(null)
            client.username().signInUsername(SignInUsernameBody(username = name, password = password))
            expect(client.core().getSession(null, null)?.user?.email == email, "session after username sign-in")
            expect(!client.username().isUsernameAvailable(IsUsernameAvailableBody(username = name)).available, "taken")
            client.core().signOut(null)
            val e = expectThrows<AuthException.Api>("wrong password") {
                client.core().signInEmail(SignInEmailBody(email = email, password = "wrong-password-1"))
            }
            expect(e.code == "INVALID_EMAIL_OR_PASSWORD", "code ${e.code}")
            expect(e.status.toInt() == 401, "status ${e.status}")
        }
    }

    check("every plugin namespace, typed, on a server with every plugin") {
        AuthClient(
            everything,
            listOf(ClientPlugin.USERNAME, ClientPlugin.MAGIC_LINK, ClientPlugin.EMAIL_OTP, ClientPlugin.TWO_FACTOR, ClientPlugin.PASSKEY),
            null,
        ).use { client ->
            val email = "kall-${rand()}@example.com"
            client.core().signUpEmail(SignUpEmailBody(name = "All", email = email, password = password))
            expect(client.username().isUsernameAvailable(IsUsernameAvailableBody(username = "k_${rand()}")).available, "username")
            expect(client.magicLink().signInMagicLink(SignInMagicLinkBody(email = "kml-${rand()}@example.com")).status, "magic link")
            expect(client.emailOtp().sendVerificationOtp(SendOtpBody(email = email, type = "sign-in")).success, "email otp")
            val options = client.passkey().generateRegisterOptions(null, "Phone")
            expect(options.contains("\"challenge\"") && options.contains("\"rp\""), "passkey options JSON: $options")
            expect(client.passkey().listUserPasskeys().isEmpty(), "no passkeys yet")

            // Two-factor: enable, confirm with a TOTP code computed here, then a
            // fresh client's sign-in is a typed challenge, finished with a backup
            // code (the client keeps the challenge cookie in its jar).
            val setup = client.twoFactor().enable(TwoFactorEnableBody(password = password))
            val uri = setup.totpUri ?: throw AssertionError("no TOTP URI")
            val codes = setup.backupCodes ?: throw AssertionError("no backup codes")
            expect(codes.size == 10, "ten backup codes")
            client.twoFactor().verifyTotp(TwoFactorVerifyCodeBody(code = Totp.now(uri)))

            AuthClient(everything, listOf(ClientPlugin.TWO_FACTOR), null).use { phone ->
                val answer = phone.core().signInEmail(SignInEmailBody(email = email, password = password))
                val challenge = (answer as? SignInResult.TwoFactorRedirect)?.value
                    ?: throw AssertionError("a second-factor challenge, got $answer")
                expect(challenge.twoFactorMethods.contains("totp"), "methods ${challenge.twoFactorMethods}")
                expect(phone.core().getSession(null, null) == null, "no session before the second factor")
                val done = phone.twoFactor().verifyBackupCode(TwoFactorVerifyBackupCodeBody(code = codes[0]))
                expect(done.user.email == email, "signed in with a backup code")
                expect(phone.core().getSession(null, null)?.user?.email == email, "session after the second factor")
            }
        }
    }

    check("spec-generated JSON escape hatch") {
        AuthClient(withUsername, listOf(ClientPlugin.USERNAME), null).use { client ->
            val name = "kj_${rand()}"
            val up = client.signUpEmailJson("""{"name":"Json","email":"kj-${rand()}@example.com","password":"$password","username":"$name"}""")
            expect(up.contains("\"username\":\"$name\""), up)
            expect(client.getSessionJson("disableRefresh=true").contains(name), "session JSON")
        }
    }

    check("bearer transport") {
        AuthClient.withBearer(withUsername, listOf(), null).use { client ->
            client.core().signUpEmail(SignUpEmailBody(name = "Bea", email = "kb-${rand()}@example.com", password = password))
            expect(client.sessionToken()?.contains('.') == true, "the signed token from set-auth-token")
            expect(client.core().getSession(null, null) != null, "bearer session")
        }
    }

    check("registration mirrors the server: PLUGIN_NOT_ENABLED before any request to its routes") {
        AuthClient(plain, listOf(ClientPlugin.USERNAME), null).use { client ->
            val e = expectThrows<AuthException.PluginNotEnabled>("username on a plain server") {
                client.username().signInUsername(SignInUsernameBody(username = "someone", password = password))
            }
            expect(e.code == "PLUGIN_NOT_ENABLED" && e.plugin == "username", "$e")
        }
        AuthClient(plain, listOf(), null).use { client ->
            client.core().signUpEmail(SignUpEmailBody(name = "Plain", email = "kp-${rand()}@example.com", password = password))
            expect(client.core().getSession(null, null) != null, "matching registration works")
            val e = expectThrows<AuthException.PluginNotEnabled>("unregistered namespace") { client.twoFactor() }
            expect(e.plugin == "two-factor", "$e")
        }
    }

    check("a failed first connection is retried on the next call") {
        val port = java.net.ServerSocket(0).use { it.localPort }
        AuthClient("http://127.0.0.1:$port", listOf(), null).use { client ->
            val e = expectThrows<AuthException.Network>("server down") { client.core().ok() }
            expect(e.code == "NETWORK_ERROR", "$e")
            val dir = java.nio.file.Files.createTempDirectory("gatehouse-kt")
            val server = ProcessBuilder(System.getenv("GATEHOUSE_BIN"), "serve")
                .apply {
                    environment().putAll(
                        mapOf(
                            "GATEHOUSE_LISTEN" to "127.0.0.1:$port",
                            "DATABASE_URL" to "sqlite://$dir/late.db",
                            "GATEHOUSE_SECRET" to "kotlin-retry-secret-0123456789-abcdefgh",
                            "RUST_LOG" to "warn",
                        ),
                    )
                    redirectErrorStream(true)
                    redirectOutput(dir.resolve("log").toFile())
                }
                .start()
            try {
                var ok: OkResponse? = null
                for (i in 0 until 100) {
                    try {
                        ok = client.core().ok()
                        break
                    } catch (e: AuthException.Network) {
                        Thread.sleep(100)
                    }
                }
                expect(ok?.ok == true, "the same client connects once the server is up")
            } finally {
                server.destroy()
            }
        }
    }

    println("$passed passed, $failed failed")
    if (failed > 0) kotlin.system.exitProcess(1)
}

/** RFC 6238 TOTP (SHA-1, 6 digits, 30 s) from an otpauth:// URI, as an authenticator app computes it. */
object Totp {
    fun now(uri: String): String {
        val secret = Regex("secret=([A-Z2-7]+)").find(uri)?.groupValues?.get(1) ?: throw AssertionError("secret in $uri")
        val key = base32(secret)
        val counter = System.currentTimeMillis() / 1000 / 30
        val msg = java.nio.ByteBuffer.allocate(8).putLong(counter).array()
        val mac = javax.crypto.Mac.getInstance("HmacSHA1")
        mac.init(javax.crypto.spec.SecretKeySpec(key, "HmacSHA1"))
        val h = mac.doFinal(msg)
        val o = h[h.size - 1].toInt() and 0x0f
        val bin = ((h[o].toInt() and 0x7f) shl 24) or ((h[o + 1].toInt() and 0xff) shl 16) or
            ((h[o + 2].toInt() and 0xff) shl 8) or (h[o + 3].toInt() and 0xff)
        return String.format("%06d", bin % 1_000_000)
    }

    private fun base32(s: String): ByteArray {
        val alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
        var buffer = 0
        var bits = 0
        val out = java.io.ByteArrayOutputStream()
        for (c in s) {
            buffer = (buffer shl 5) or alphabet.indexOf(c)
            bits += 5
            if (bits >= 8) {
                out.write((buffer shr (bits - 8)) and 0xff)
                bits -= 8
            }
        }
        return out.toByteArray()
    }
}
