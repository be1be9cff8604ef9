// Initiate the one-member replica set rs0 and create the hub's user with
// readWrite on its database. Run by the mongo-init service of
// deploy/compose.yaml with `mongosh --nodb --file`. Every step skips what
// already exists, so running it again changes nothing. Passwords come from
// the environment, so they appear in no command line or log.

const env = process.env;
const rootUser = env.MONGO_ROOT_USER;
const rootPassword = env.MONGO_ROOT_PASSWORD;
const hubUser = env.MONGO_HUB_USER;
const hubPassword = env.MONGO_HUB_PASSWORD;
const hubDatabase = env.MONGO_HUB_DATABASE;
const member = env.MONGO_MEMBER || "mongo:27017";
const waitSeconds = 60;

for (const name of ["MONGO_ROOT_USER", "MONGO_ROOT_PASSWORD", "MONGO_HUB_USER",
                    "MONGO_HUB_PASSWORD", "MONGO_HUB_DATABASE"]) {
  if (!env[name]) {
    print(`mongo-init: missing ${name}`);
    quit(2);
  }
}

const admin = new Mongo(`mongodb://${member}/?directConnection=true`).getDB("admin");
admin.auth(rootUser, rootPassword);

let initiated = true;
try {
  admin.runCommand({ replSetGetStatus: 1 }).ok || (initiated = false);
} catch (error) {
  initiated = false;
}
if (!initiated) {
  print(`mongo-init: initiating replica set rs0 with member ${member}`);
  admin.runCommand({ replSetInitiate: { _id: "rs0", members: [{ _id: 0, host: member }] } });
}

// Writes need a primary; a new one-member set elects itself within seconds.
let primary = false;
for (let second = 0; second < waitSeconds && !primary; second++) {
  primary = admin.runCommand({ hello: 1 }).isWritablePrimary === true;
  if (!primary) sleep(1000);
}
if (!primary) {
  print(`mongo-init: no primary after ${waitSeconds} s; check the mongo service's log`);
  quit(1);
}

if (admin.getUser(hubUser) === null) {
  print(`mongo-init: creating user ${hubUser} with readWrite on ${hubDatabase}`);
  admin.createUser({
    user: hubUser,
    pwd: hubPassword,
    roles: [{ role: "readWrite", db: hubDatabase }],
  });
} else {
  print(`mongo-init: user ${hubUser} exists; its password is not changed`);
}
print("mongo-init: done");
