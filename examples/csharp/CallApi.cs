// Get a token from credgate with the client credentials grant, then read one user with it.
// Needs: .NET 6 or newer. In a console project (dotnet new console), this is Program.cs.

using System;
using System.Collections.Generic;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;

var baseUrl = Env("CREDGATE_URL", "https://credgate.example"); // credgate:base-url
var clientId = Env("CLIENT_ID", "your-client-id"); // credgate:client-id
var secret = Required("CLIENT_SECRET");
var userId = Required("USER_ID");

using var http = new HttpClient(Handler()) { Timeout = TimeSpan.FromSeconds(10) };

// RFC 6749 §2.3.1: form-encode the id and secret before they go into HTTP Basic.
var basic = Convert.ToBase64String(Encoding.UTF8.GetBytes(
    $"{Uri.EscapeDataString(clientId)}:{Uri.EscapeDataString(secret)}"));
var tokenRequest = new HttpRequestMessage(HttpMethod.Post, $"{baseUrl}/oauth/token")
{
    Content = new FormUrlEncodedContent(new Dictionary<string, string>
    {
        ["grant_type"] = "client_credentials",
    }),
};
tokenRequest.Headers.Authorization = new AuthenticationHeaderValue("Basic", basic);
var tokenResponse = await http.SendAsync(tokenRequest);
var tokenBody = await tokenResponse.Content.ReadAsStringAsync();
if (!tokenResponse.IsSuccessStatusCode)
{
    return Fail($"token request failed: {(int)tokenResponse.StatusCode} {tokenBody}");
}
var token = JsonDocument.Parse(tokenBody).RootElement.GetProperty("access_token").GetString();

var userRequest = new HttpRequestMessage(
    HttpMethod.Get, $"{baseUrl}/api/users/{Uri.EscapeDataString(userId)}");
userRequest.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
var userResponse = await http.SendAsync(userRequest);
var userBody = await userResponse.Content.ReadAsStringAsync();
if (!userResponse.IsSuccessStatusCode)
{
    return Fail($"API call failed: {(int)userResponse.StatusCode} {userBody}");
}
Console.WriteLine(userBody);
return 0;

// A private CA (such as credgate's development one) is trusted when CREDGATE_CA names it:
// the server's chain must end at that certificate, and nothing else is accepted.
static HttpClientHandler Handler()
{
    var handler = new HttpClientHandler();
    var caFile = Environment.GetEnvironmentVariable("CREDGATE_CA");
    if (string.IsNullOrEmpty(caFile))
    {
        return handler;
    }
    var ca = X509Certificate2.CreateFromPemFile(caFile);
    handler.ServerCertificateCustomValidationCallback = (_, certificate, _, errors) =>
    {
        if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != 0)
        {
            return false;
        }
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    };
    return handler;
}

static string Env(string name, string fallback) =>
    Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : fallback;

static string Required(string name) =>
    Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
        ? value
        : throw new InvalidOperationException($"set {name}");

static int Fail(string message)
{
    Console.Error.WriteLine(message);
    return 1;
}
