// Get a token from credgate with the client credentials grant, then read one user with it.
// Needs: .NET 6 or newer (in a console project, as Program.cs: dotnet run), or Mono
// (mcs -r:System.Net.Http.dll CallApi.cs && mono CallApi.exe).

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.RegularExpressions;

public static class CallApi
{
    public static int Main()
    {
        try
        {
            return Run();
        }
        catch (Exception error)
        {
            return Fail("request failed: " + error.GetBaseException().Message);
        }
    }

    static int Run()
    {
        string baseUrl = Env("CREDGATE_URL", "https://credgate.example"); // credgate:base-url
        string clientId = Env("CLIENT_ID", "your-client-id"); // credgate:client-id
        string secret = Required("CLIENT_SECRET");
        string userId = Required("USER_ID");
        using (var http = new HttpClient(Handler()) { Timeout = TimeSpan.FromSeconds(10) })
        {
            // RFC 6749 §2.3.1: form-encode the id and secret before they go into HTTP Basic.
            string basic = Convert.ToBase64String(Encoding.UTF8.GetBytes(
                Uri.EscapeDataString(clientId) + ":" + Uri.EscapeDataString(secret)));
            var tokenRequest = new HttpRequestMessage(HttpMethod.Post, baseUrl + "/oauth/token");
            tokenRequest.Headers.Authorization = new AuthenticationHeaderValue("Basic", basic);
            tokenRequest.Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                { "grant_type", "client_credentials" },
            });
            var tokenResponse = http.SendAsync(tokenRequest).GetAwaiter().GetResult();
            string tokenBody = tokenResponse.Content.ReadAsStringAsync().GetAwaiter().GetResult();
            if (!tokenResponse.IsSuccessStatusCode)
            {
                int status = (int)tokenResponse.StatusCode;
                return Fail("token request failed: " + status + " " + tokenBody);
            }
            // The answer is flat JSON; System.Text.Json or Json.NET does this in a real project.
            Match token = Regex.Match(tokenBody, "\"access_token\"\\s*:\\s*\"([^\"]+)\"");
            if (!token.Success)
            {
                return Fail("the token answer has no access_token");
            }

            var userRequest = new HttpRequestMessage(
                HttpMethod.Get, baseUrl + "/api/users/" + Uri.EscapeDataString(userId));
            userRequest.Headers.Authorization =
                new AuthenticationHeaderValue("Bearer", token.Groups[1].Value);
            var userResponse = http.SendAsync(userRequest).GetAwaiter().GetResult();
            string userBody = userResponse.Content.ReadAsStringAsync().GetAwaiter().GetResult();
            if (!userResponse.IsSuccessStatusCode)
            {
                return Fail("API call failed: " + (int)userResponse.StatusCode + " " + userBody);
            }
            Console.WriteLine(userBody);
            return 0;
        }
    }

    // A private CA (such as credgate's development one) is trusted when CREDGATE_CA names it:
    // the server's certificate must match its name and chain up to exactly that CA.
    static HttpClientHandler Handler()
    {
        var handler = new HttpClientHandler();
        string caFile = Environment.GetEnvironmentVariable("CREDGATE_CA");
        if (string.IsNullOrEmpty(caFile))
        {
            return handler;
        }
        var ca = new X509Certificate2(File.ReadAllBytes(caFile));
        handler.ServerCertificateCustomValidationCallback = (request, certificate, _, errors) =>
        {
            // The name must match; only the chain is checked here, against the CA alone.
            var otherErrors = errors & ~SslPolicyErrors.RemoteCertificateChainErrors;
            if (certificate == null || otherErrors != SslPolicyErrors.None)
            {
                return false;
            }
            using (var custom = new X509Chain())
            {
                custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                custom.ChainPolicy.VerificationFlags =
                    X509VerificationFlags.AllowUnknownCertificateAuthority;
                custom.ChainPolicy.ExtraStore.Add(ca);
                if (!custom.Build(certificate))
                {
                    return false;
                }
                var root = custom.ChainElements[custom.ChainElements.Count - 1].Certificate;
                return root.RawData.SequenceEqual(ca.RawData);
            }
        };
        return handler;
    }

    static string Env(string name, string fallback)
    {
        string value = Environment.GetEnvironmentVariable(name);
        return string.IsNullOrEmpty(value) ? fallback : value;
    }

    static string Required(string name)
    {
        string value = Environment.GetEnvironmentVariable(name);
        if (string.IsNullOrEmpty(value))
        {
            Environment.Exit(Fail("set " + name));
        }
        return value;
    }

    static int Fail(string message)
    {
        Console.Error.WriteLine(message);
        return 1;
    }
}
