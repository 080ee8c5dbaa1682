<?php
// Get a token from credgate with the client credentials grant, then read one user with it.
// Needs: PHP with the curl extension (php-curl).

$baseUrl = getenv('CREDGATE_URL') ?: 'https://credgate.example'; // credgate:base-url
$clientId = getenv('CLIENT_ID') ?: 'your-client-id'; // credgate:client-id

function required(string $name): string
{
    $value = getenv($name);
    if ($value === false || $value === '') {
        fwrite(STDERR, "set $name\n");
        exit(1);
    }
    return $value;
}

function request(string $url, array $options): array
{
    $curl = curl_init($url);
    curl_setopt_array($curl, $options + [
        CURLOPT_RETURNTRANSFER => true,
        CURLOPT_TIMEOUT => 10,
    ]);
    // A private CA (such as credgate's development one) is trusted when CREDGATE_CA names it.
    $caFile = getenv('CREDGATE_CA');
    if ($caFile) {
        curl_setopt($curl, CURLOPT_CAINFO, $caFile);
    }
    $body = curl_exec($curl);
    if ($body === false) {
        fwrite(STDERR, 'request failed: ' . curl_error($curl) . "\n");
        exit(1);
    }
    $status = curl_getinfo($curl, CURLINFO_RESPONSE_CODE);
    curl_close($curl);
    return [$status, $body];
}

$secret = required('CLIENT_SECRET');
$userId = required('USER_ID');

// Form fields (client_secret_post); http_build_query form-encodes them.
[$status, $body] = request("$baseUrl/oauth/token", [
    CURLOPT_POST => true,
    CURLOPT_POSTFIELDS => http_build_query([
        'grant_type' => 'client_credentials',
        'client_id' => $clientId,
        'client_secret' => $secret,
    ]),
]);
if ($status !== 200) {
    fwrite(STDERR, "token request failed: $status $body\n");
    exit(1);
}
$token = json_decode($body, true)['access_token'];

[$status, $body] = request("$baseUrl/api/users/" . rawurlencode($userId), [
    CURLOPT_HTTPHEADER => ["Authorization: Bearer $token"],
]);
if ($status !== 200) {
    fwrite(STDERR, "API call failed: $status $body\n");
    exit(1);
}
echo $body, "\n";
