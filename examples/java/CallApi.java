// Get a token from credgate with the client credentials grant, then read one user with it.
// Needs: JDK 11 or newer. Run with: java CallApi.java

import java.io.FileInputStream;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.Base64;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

public class CallApi {
    public static void main(String[] args) throws Exception {
        String baseUrl = env("CREDGATE_URL", "https://credgate.example"); // credgate:base-url
        String clientId = env("CLIENT_ID", "your-client-id"); // credgate:client-id
        String secret = required("CLIENT_SECRET");
        String userId = required("USER_ID");
        HttpClient http = HttpClient.newBuilder()
                .sslContext(sslContext())
                .connectTimeout(Duration.ofSeconds(10))
                .build();

        // RFC 6749 §2.3.1: form-encode the id and secret before they go into HTTP Basic.
        String basic = Base64.getEncoder().encodeToString(
                (form(clientId) + ":" + form(secret)).getBytes(StandardCharsets.UTF_8));
        HttpRequest tokenRequest = HttpRequest.newBuilder(URI.create(baseUrl + "/oauth/token"))
                .header("Authorization", "Basic " + basic)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString("grant_type=client_credentials"))
                .build();
        HttpResponse<String> tokenResponse = http.send(tokenRequest, BodyHandlers.ofString());
        if (tokenResponse.statusCode() != 200) {
            fail("token request failed: " + tokenResponse.statusCode() + " "
                    + tokenResponse.body());
        }
        String token = accessToken(tokenResponse.body());

        String userPath = "/api/users/" + form(userId).replace("+", "%20");
        HttpRequest userRequest = HttpRequest.newBuilder(URI.create(baseUrl + userPath))
                .header("Authorization", "Bearer " + token)
                .GET()
                .build();
        HttpResponse<String> userResponse = http.send(userRequest, BodyHandlers.ofString());
        if (userResponse.statusCode() != 200) {
            fail("API call failed: " + userResponse.statusCode() + " " + userResponse.body());
        }
        System.out.println(userResponse.body());
    }

    // A private CA (such as credgate's development one) is trusted when CREDGATE_CA names it:
    // a KeyStore is built from the PEM file and becomes the only trust anchor.
    static SSLContext sslContext() throws Exception {
        String caFile = System.getenv("CREDGATE_CA");
        if (caFile == null || caFile.isEmpty()) {
            return SSLContext.getDefault();
        }
        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        try (InputStream pem = new FileInputStream(caFile)) {
            int index = 0;
            CertificateFactory x509 = CertificateFactory.getInstance("X.509");
            for (Certificate ca : x509.generateCertificates(pem)) {
                trust.setCertificateEntry("credgate-ca-" + index++, ca);
            }
        }
        TrustManagerFactory factory =
                TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        factory.init(trust);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, factory.getTrustManagers(), null);
        return context;
    }

    // The answer is flat JSON; a JSON library (Jackson, Gson) does this in a real project.
    static String accessToken(String json) {
        Matcher match = Pattern.compile("\"access_token\"\\s*:\\s*\"([^\"]+)\"").matcher(json);
        if (!match.find()) {
            fail("the token answer has no access_token");
        }
        return match.group(1);
    }

    static String form(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8);
    }

    static String env(String name, String fallback) {
        String value = System.getenv(name);
        return value == null || value.isEmpty() ? fallback : value;
    }

    static String required(String name) {
        String value = System.getenv(name);
        if (value == null || value.isEmpty()) {
            fail("set " + name);
        }
        return value;
    }

    static void fail(String message) {
        System.err.println(message);
        System.exit(1);
    }
}
