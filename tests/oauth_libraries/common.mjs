// What every Node.js library check shares: its settings from the environment, and the answer.

export const settings = {
  baseUrl: process.env.CREDGATE_URL,
  clientId: process.env.CLIENT_ID,
  clientSecret: process.env.CLIENT_SECRET,
  userId: process.env.USER_ID,
  method: process.env.AUTH_METHOD || "default",
};

// One JSON line for the test to check: the token answer as the library saw it, and the user.
export function report(token, user) {
  console.log(JSON.stringify({ token, user }));
}

export function run(main) {
  main().catch((error) => {
    const cause = error.cause ? JSON.stringify(error.cause) : "";
    console.error(`${error.name}: ${error.message} ${cause}`);
    process.exit(1);
  });
}
