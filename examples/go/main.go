// Get a token from credgate with the client credentials grant, then read one user with it.
// Needs: Go 1.19 or newer, standard library only. Run with: go run main.go
package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

var (
	baseURL  = env("CREDGATE_URL", "https://credgate.example") // credgate:base-url
	clientID = env("CLIENT_ID", "your-client-id")              // credgate:client-id
)

func main() {
	secret := required("CLIENT_SECRET")
	userID := required("USER_ID")
	client := &http.Client{Timeout: 10 * time.Second, Transport: transport()}

	// RFC 6749 §2.3.1: form-encode the id and secret before they go into HTTP Basic.
	form := url.Values{"grant_type": {"client_credentials"}}
	tokenRequest, err := http.NewRequest(http.MethodPost, baseURL+"/oauth/token",
		strings.NewReader(form.Encode()))
	check(err)
	tokenRequest.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	tokenRequest.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	status, body := send(client, tokenRequest)
	if status != http.StatusOK {
		fail("token request failed: %d %s", status, body)
	}
	var token struct {
		AccessToken string `json:"access_token"`
	}
	check(json.Unmarshal(body, &token))

	userRequest, err := http.NewRequest(http.MethodGet,
		baseURL+"/api/users/"+url.PathEscape(userID), nil)
	check(err)
	userRequest.Header.Set("Authorization", "Bearer "+token.AccessToken)
	status, body = send(client, userRequest)
	if status != http.StatusOK {
		fail("API call failed: %d %s", status, body)
	}
	fmt.Println(string(body))
}

// A private CA (such as credgate's development one) is trusted when CREDGATE_CA names it.
func transport() http.RoundTripper {
	caFile := os.Getenv("CREDGATE_CA")
	if caFile == "" {
		return http.DefaultTransport
	}
	pem, err := os.ReadFile(caFile)
	check(err)
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		fail("no certificate in %s", caFile)
	}
	custom := http.DefaultTransport.(*http.Transport).Clone()
	custom.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	return custom
}

func send(client *http.Client, request *http.Request) (int, []byte) {
	response, err := client.Do(request)
	check(err)
	defer response.Body.Close()
	body, err := io.ReadAll(response.Body)
	check(err)
	return response.StatusCode, body
}

func env(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}

func required(name string) string {
	value := os.Getenv(name)
	if value == "" {
		fail("set %s", name)
	}
	return value
}

func check(err error) {
	if err != nil {
		fail("request failed: %v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}
