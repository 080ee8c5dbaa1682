// golang.org/x/oauth2/clientcredentials gets a token and its client calls the API with it.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

func main() {
	base := os.Getenv("CREDGATE_URL")
	config := clientcredentials.Config{
		ClientID:     os.Getenv("CLIENT_ID"),
		ClientSecret: os.Getenv("CLIENT_SECRET"),
		TokenURL:     base + "/oauth/token",
		Scopes:       []string{"users:read"},
		AuthStyle:    authStyle(os.Getenv("AUTH_METHOD")),
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, trustingClient())

	token, err := config.Token(ctx)
	check(err)
	response, err := config.Client(ctx).Get(base + "/api/users/" + os.Getenv("USER_ID"))
	check(err)
	defer response.Body.Close()
	body, err := io.ReadAll(response.Body)
	check(err)
	if response.StatusCode != http.StatusOK {
		check(fmt.Errorf("API call failed: %d %s", response.StatusCode, body))
	}
	var user map[string]any
	check(json.Unmarshal(body, &user))
	answer := map[string]any{
		"token": map[string]any{
			"access_token": token.AccessToken,
			"token_type":   token.TokenType,
			"expires_at":   token.Expiry.Unix(),
			"token_id":     token.Extra("token_id"),
		},
		"user": user,
	}
	check(json.NewEncoder(os.Stdout).Encode(answer))
}

func authStyle(method string) oauth2.AuthStyle {
	switch method {
	case "client_secret_basic":
		return oauth2.AuthStyleInHeader
	case "client_secret_post":
		return oauth2.AuthStyleInParams
	}
	return oauth2.AuthStyleAutoDetect // the default
}

func trustingClient() *http.Client {
	pem, err := os.ReadFile(os.Getenv("CREDGATE_CA"))
	check(err)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: transport}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
