// Get a token from credgate with the client credentials grant, then read one user with it.
// Needs: Swift 5.7 or newer with Foundation. Run with: swift main.swift
//
// For a private CA, such as credgate's development one, add it to the system trust store
// (Keychain on macOS; /usr/local/share/ca-certificates and update-ca-certificates on Linux).

import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

let environment = ProcessInfo.processInfo.environment
let baseURL = environment["CREDGATE_URL"] ?? "https://credgate.example" // credgate:base-url
let clientID = environment["CLIENT_ID"] ?? "your-client-id" // credgate:client-id

func fail(_ message: String) -> Never {
    FileHandle.standardError.write((message + "\n").data(using: .utf8)!)
    exit(1)
}

func required(_ name: String) -> String {
    guard let value = environment[name], !value.isEmpty else { fail("set \(name)") }
    return value
}

func formEncode(_ value: String) -> String {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    return value.addingPercentEncoding(withAllowedCharacters: allowed)!
}

func send(_ request: URLRequest) -> (Int, Data) {
    var result: (Int, Data)?
    let done = DispatchSemaphore(value: 0)
    URLSession.shared.dataTask(with: request) { data, response, error in
        if let error = error { fail("request failed: \(error.localizedDescription)") }
        result = ((response as? HTTPURLResponse)?.statusCode ?? 0, data ?? Data())
        done.signal()
    }.resume()
    done.wait()
    return result!
}

let secret = required("CLIENT_SECRET")
let userID = required("USER_ID")

// Form fields (client_secret_post), each form-encoded.
var tokenRequest = URLRequest(url: URL(string: "\(baseURL)/oauth/token")!)
tokenRequest.httpMethod = "POST"
tokenRequest.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
tokenRequest.httpBody = [
    "grant_type=client_credentials",
    "client_id=\(formEncode(clientID))",
    "client_secret=\(formEncode(secret))",
].joined(separator: "&").data(using: .utf8)
let (tokenStatus, tokenBody) = send(tokenRequest)
guard tokenStatus == 200 else {
    fail("token request failed: \(tokenStatus) \(String(decoding: tokenBody, as: UTF8.self))")
}
struct TokenAnswer: Decodable { let access_token: String }
guard let token = try? JSONDecoder().decode(TokenAnswer.self, from: tokenBody) else {
    fail("the token answer has no access_token")
}

var userRequest = URLRequest(url: URL(string: "\(baseURL)/api/users/\(formEncode(userID))")!)
userRequest.setValue("Bearer \(token.access_token)", forHTTPHeaderField: "Authorization")
let (userStatus, userBody) = send(userRequest)
guard userStatus == 200 else {
    fail("API call failed: \(userStatus) \(String(decoding: userBody, as: UTF8.self))")
}
print(String(decoding: userBody, as: UTF8.self))
