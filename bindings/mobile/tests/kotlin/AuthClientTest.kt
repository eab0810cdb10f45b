// The Kotlin binding against live servers, on the JVM through JNA.
// args: <url of a server with username+bearer> <url of a server without username>
import dev.gatehouse.AuthClient
import dev.gatehouse.AuthException
import dev.gatehouse.ClientPlugin
import dev.gatehouse.TokenStorage
import dev.gatehouse.*
import kotlinx.coroutines.runBlocking

var passed = 0
var failed = 0

fun check(name: String, body: () -> Unit) {
    try {
        body()
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

fun main(args: Array<String>) = runBlocking {
    val withUsername = args[0]
    val withoutUsername = args[1]
    val password = "kotlin-password-1"

    check("cross-language scenario") {
        runBlocking {
            val storage = MemoryStorage()
            AuthClient(withUsername, listOf(ClientPlugin.USERNAME), storage).use { client ->
                val email = "kt-${rand()}@example.com"
                val name = "kt_${rand()}"
                val up = client.username().signUp("Kotlin", email.uppercase(), password, name)
                expect(up.user.email == email, "email lower-cased: ${up.user.email}")
                expect(storage.token?.startsWith(up.token!!) == true, "token kept in the app's storage")
                expect(client.getSession()?.user?.username == name, "session after sign-up")
                client.signOut()
                expect(storage.token == null, "storage cleared on sign-out")
                expect(client.getSession() == null, "signed out")
                val signedIn = client.signInEmail(email, password)
                expect(client.getSession()?.session?.token == signedIn.token, "session after sign-in")
                client.signOut()
                client.username().signIn(name, password)
                expect(client.getSession()?.user?.email == email, "session after username sign-in")
                expect(!client.username().isAvailable(name), "username taken")
                client.signOut()
                try {
                    client.signInEmail(email, "wrong-password-1")
                    throw AssertionError("wrong password accepted")
                } catch (e: AuthException.Api) {
                    expect(e.code == "INVALID_EMAIL_OR_PASSWORD", "code ${e.code}")
                    expect(e.status.toInt() == 401, "status ${e.status}")
                }
            }
        }
    }

    check("spec-generated route functions (JSON in, JSON out)") {
        runBlocking {
            AuthClient(withUsername, listOf(ClientPlugin.USERNAME), null).use { client ->
                val name = "kj_${rand()}"
                val up = client.signUpEmailJson("""{"name":"Json","email":"kj-${rand()}@example.com","password":"$password","username":"$name"}""")
                expect(up.contains("\"username\":\"$name\""), up)
                val available = client.isUsernameAvailableJson("""{"username":"$name"}""")
                expect(available == """{"available":false}""", available)
                expect(client.getSessionJson("disableRefresh=true").contains(name), "session JSON")
                try {
                    client.signInEmailJson("""{"email":"nobody-${rand()}@example.com","password":"$password"}""")
                    throw AssertionError("no error")
                } catch (e: AuthException.Api) {
                    expect(e.code == "INVALID_EMAIL_OR_PASSWORD", "$e")
                }
            }
            AuthClient(withoutUsername, listOf(), null).use { client ->
                try {
                    client.isUsernameAvailableJson("""{"username":"someone"}""")
                    throw AssertionError("plugin route without registration")
                } catch (e: AuthException.PluginNotEnabled) {
                    expect(e.plugin == "username", "$e")
                }
            }
        }
    }

    check("bearer transport") {
        runBlocking {
            AuthClient(withUsername, listOf(ClientPlugin.BEARER), null).use { client ->
                client.signUpEmail("Bea", "kb-${rand()}@example.com", password)
                expect(client.getSession() != null, "bearer session")
            }
        }
    }

    check("server without username: PLUGIN_NOT_ENABLED before any request to its routes") {
        runBlocking {
            AuthClient(withoutUsername, listOf(ClientPlugin.USERNAME), null).use { client ->
                try {
                    client.username().signIn("someone", password)
                    throw AssertionError("no error")
                } catch (e: AuthException.PluginNotEnabled) {
                    expect(e.code == "PLUGIN_NOT_ENABLED" && e.plugin == "username", "$e")
                }
                try {
                    client.getSession()
                    throw AssertionError("no error")
                } catch (e: AuthException.PluginNotEnabled) {
                    expect(e.plugin == "username", "$e")
                }
            }
            AuthClient(withoutUsername, listOf(), null).use { client ->
                client.signUpEmail("Plain", "kp-${rand()}@example.com", password)
                expect(client.getSession() != null, "matching registration works")
                try {
                    client.username()
                    throw AssertionError("namespace without registration")
                } catch (e: AuthException.PluginNotEnabled) {
                    expect(e.plugin == "username", "$e")
                }
            }
        }
    }

    check("two-factor and passkey namespaces mirror the server's registration") {
        runBlocking {
            // Neither test server runs these plugins: connecting fails, typed, before any route call.
            for (plugin in listOf(ClientPlugin.TWO_FACTOR, ClientPlugin.PASSKEY)) {
                AuthClient(withUsername, listOf(plugin), null).use { client ->
                    try {
                        client.twoFactor().verifyTotp("123456", false)
                        throw AssertionError("no error")
                    } catch (e: AuthException.PluginNotEnabled) {
                        val id = if (plugin == ClientPlugin.TWO_FACTOR) "two-factor" else "passkey"
                        expect(e.code == "PLUGIN_NOT_ENABLED" && e.plugin == id, "$e")
                    }
                }
            }
        }
    }

    println("$passed passed, $failed failed")
    if (failed > 0) kotlin.system.exitProcess(1)
}
