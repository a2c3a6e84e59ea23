@0xc5e1a3f0b2d4e697;
# The client API of tutti: what `tutti` (and any other Cap'n Proto client) may ask
# of a control plane. Every result carries `error`; it is set (code not none) when
# the call failed, and then the other fields are empty.
#
# Every closed set is an enum that mirrors a C++ enum of tutti::protocol, in the
# same order; protocol/capnp_convert.cpp maps one to the other. A reader meets the
# enumerants of a newer peer as numbers it does not know, and refuses them.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("tutti::protocol::rpc");

# tutti::protocol::error_code
enum ErrorCode {
  none @0;
  invalidArgument @1;
  invalidSpec @2;
  notFound @3;
  alreadyExists @4;
  storeFailure @5;
  storeFull @6;
  dataDirLocked @7;
  driverFailure @8;
  unschedulable @9;
  unavailable @10;
  timeout @11;
  internal @12;
  forbidden @13;
  notLeader @14;
  unauthenticated @15;
}

# tutti::protocol::replica_state
enum ReplicaState {
  pending @0;
  starting @1;
  running @2;
  backoff @3;
  stopping @4;
  exited @5;
  failed @6;
}

# tutti::protocol::driver_kind
enum DriverKind {
  process @0;
  sim @1;
  docker @2;
  containerd @3;
}

# tutti::protocol::node_state
enum NodeState {
  ready @0;
  cordoned @1;
  draining @2;
  lost @3;
  restarting @4;  # its agent restarts (an upgrade): its replicas stay, for a grace
}

# tutti::protocol::rollout_state
enum RolloutState {
  progressing @0;
  complete @1;
  paused @2;
  rollingBack @3;
}

# tutti::protocol::load_balancing
enum LoadBalancing {
  roundRobin @0;
  leastConnections @1;
}

# tutti::protocol::change_kind
enum ChangeKind {
  created @0;
  updated @1;
  unchanged @2;
  deleted @3;
}

# tutti::protocol::actor_state
enum ActorState {
  running @0;
  restarting @1;
  unreachable @2;
  ready @3;
  cordoned @4;
  draining @5;
  lost @6;
}

# tutti::protocol::control_role
enum ControlRole {
  single @0;
  leader @1;
  standby @2;
}

# tutti::protocol::access_role
enum AccessRole {
  viewer @0;
  deployer @1;
  operator @2;
  admin @3;
}

# tutti::protocol::credential_kind
enum CredentialKind {
  token @0;
  adminToken @1;
  clientCertificate @2;
  unixPeer @3;
}

struct Error {
  code @0 :ErrorCode;
  message @1 :Text;
}

struct SpecError {
  file @0 :Text;
  line @1 :Int32;
  column @2 :Int32;
  field @3 :Text;
  message @4 :Text;
}

struct PortBinding {
  name @0 :Text;
  hostPort @1 :UInt16;
}

struct ReplicaStatus {
  id @0 :Text;
  service @1 :Text;
  slot @2 :Int32;
  node @3 :Text;
  state @4 :ReplicaState;
  pid @5 :Int64;
  runtimeId @6 :Text;
  restarts @7 :Int32;
  revision @8 :Int64;
  exitCode @9 :Int32;
  message @10 :Text;
  sinceMs @11 :Int64;
  ports @12 :List(PortBinding);
  address @13 :Text;
  ready @14 :Bool;
  unhealthy @15 :Bool;
  health @16 :Text;    # the last probe results, for people
  logTail @17 :Text;
  templateHash @18 :Text;
}

struct ServiceStatus {
  name @0 :Text;
  revision @1 :Int64;
  desired @2 :Int32;
  running @3 :Int32;
  driver @4 :DriverKind;
  restarts @5 :Int32;
  updatedMs @6 :Int64;
  ready @7 :Int32;     # running, and ready by their readiness probes
  autoscale @8 :Text;  # bounds and each metric's total/target per replica ("1-4, rps 412.0/50")
  autoscaled @9 :Text; # the autoscaler's last change, with its reason
}

struct RolloutStatus {
  service @0 :Text;
  revision @1 :Int64;
  state @2 :RolloutState;
  desired @3 :Int32;
  updated @4 :Int32;  # replicas of the revision's template
  ready @5 :Int32;    # of those, ready
  available @6 :Int32;
  old @7 :Int32;      # replicas of earlier templates still there
  message @8 :Text;
}

struct Revision {
  revision @0 :Int64;
  timeMs @1 :Int64;
  specYaml @2 :Text;
}

struct Event {
  seq @0 :UInt64;
  timeMs @1 :Int64;
  kind @2 :Text;      # past tense, e.g. replica_started, service_applied, node_drained
  service @3 :Text;
  replica @4 :Text;
  message @5 :Text;
}

struct Resources {
  cpu @0 :Float64;
  memory @1 :Int64;
  disk @2 :Int64;    # a node's: the size of its volumes' disk, and what volumes reserve
}

struct Label {
  key @0 :Text;
  value @1 :Text;
}

# Why one driver of a node is unhealthy.
struct DriverError {
  driver @0 :DriverKind;
  message @1 :Text;
}

struct NodeStatus {
  name @0 :Text;
  address @1 :Text;
  state @2 :NodeState;
  capacity @3 :Resources;
  allocated @4 :Resources;
  replicas @5 :Int32;
  labels @6 :List(Label);
  drivers @7 :List(DriverKind);
  driverErrors @8 :List(DriverError); # one per unhealthy driver
  portsCapacity @9 :Int32;      # host ports it can give replicas (its port range)
  portsAllocated @10 :Int32;    # of those, reserved by replicas placed there
}

# One actor of the supervision tree; see Tutti.tree.
struct ActorInfo {
  path @0 :Text;      # e.g. /cluster/service/web, /nodes/n1/replica/web-2
  kind @1 :Text;      # supervisor, store, placement, cluster, service, node, replica, ...
  state @2 :ActorState; # running, restarting, unreachable, or a node's state
  id @3 :UInt64;      # changes on each restart
  restarts @4 :Int32;
  lastExit @5 :Text;  # why it last ended; empty when it never did
}

struct ControllerStatus {
  api @0 :Text;       # where it serves clients (the leader only)
  cluster @1 :Text;   # where nodes join it (the leader only)
  host @2 :Text;
  leading @3 :Bool;
  sinceMs @4 :Int64;  # when it started standing by, or took the lead
}

struct StoreEndpoint {
  endpoint @0 :Text;
  healthy @1 :Bool;
  message @2 :Text;   # etcd's version and role, or why it does not answer
}

struct ServiceChange {
  service @0 :Text;
  kind @1 :ChangeKind;
  revision @2 :Int64;
  diff @3 :Text;
}

struct ServiceDetail {
  status @0 :ServiceStatus;
  specYaml @1 :Text;
  replicas @2 :List(ReplicaStatus);
  events @3 :List(Event);
}

struct Port {
  name @0 :Text;
  published @1 :UInt16;   # 0: not published on the routing mesh
}

struct Endpoint {
  replica @0 :Text;
  node @1 :Text;
  port @2 :Text;          # the port's name
  host @3 :Text;
  hostPort @4 :UInt16;
}

# A service's ports and the endpoints of its ready replicas.
struct ServiceEndpoints {
  service @0 :Text;
  ports @1 :List(Port);
  balancing @2 :LoadBalancing;
  endpoints @3 :List(Endpoint);
  removed @4 :Bool;       # the service was deleted
}

# Receives a service's endpoint set each time it changes; see Tutti.watchEndpoints.
interface EndpointSink {
  push @0 (endpoints :ServiceEndpoints) -> stream;
}

# Receives events as they are committed; see Tutti.follow.
interface EventSink {
  push @0 (events :List(Event)) -> stream;
}

# Receives an image archive for Tutti.importImage, piece by piece, in order.
interface ImageUpload {
  write @0 (data :Data) -> stream;

  # Ends the upload: the node loads the archive into the driver's image store
  # and answers the images (name:tag) it holds. A broken archive is an error
  # naming what is wrong; the node keeps nothing of it.
  done @1 () -> (images :List(Text), error :Error);
}

# Receives a backup of the store for Tutti.backup, piece by piece, in order.
interface BackupSink {
  write @0 (data :Data) -> stream;
}

# A persistent volume kept on a node: the folder of one slot's volume.
struct VolumeInfo {
  node @0 :Text;
  replica @1 :Text;   # the slot it belongs to, e.g. db-0
  volume @2 :Text;
  inUse @3 :Bool;     # a replica on the node runs with it now
}

# One version of a Config or Secret (Tutti.listConfigs, listSecrets). A
# secret's data never leaves the control plane through this API.
struct ObjectInfo {
  name @0 :Text;          # qualified: NAMESPACE.NAME, or NAME in default
  version @1 :Int64;
  createdMs @2 :Int64;
  size @3 :Int64;         # bytes of data
  sha256 @4 :Text;        # of a config's data; empty for a secret
  data @5 :Data;          # a config's, when asked for; never a secret's
  usedBy @6 :List(Text);  # services whose current spec uses this version
}

# Who a session acts for.
struct Identity {
  name @0 :Text;
  groups @1 :List(Text);
  role @2 :AccessRole;
  via @3 :CredentialKind;
  expiresMs @4 :Int64;  # 0: never
  namespaces @5 :List(Text);  # where the role holds; empty: the whole cluster
}

# A bearer token as `tutti token ls` shows it: never its secret.
struct TokenInfo {
  name @0 :Text;
  role @1 :AccessRole;
  createdMs @2 :Int64;
  expiresMs @3 :Int64;  # 0: never
  createdBy @4 :Text;
  namespace @5 :Text;   # where its role holds; empty: the whole cluster
}

struct AuditRecord {
  id @0 :Text;          # orders the records
  timeMs @1 :Int64;
  who @2 :Text;
  from @3 :Text;
  call @4 :Text;
  target @5 :Text;
  result @6 :Text;      # ok, or the error code
  message @7 :Text;
}

# The bootstrap capability of every connection. A client proves who it is (a
# bearer token, or the client certificate of its TLS connection when `token`
# is empty) and gets a session: a Tutti that allows exactly what that identity
# may do. The call throws (the pipelined session fails with the reason) when
# the credential is missing, unknown, expired or revoked. A session stops
# working at once when its token is revoked or expires.
interface Gate {
  session @0 (token :Text) -> (session :Tutti, identity :Identity);

  # A new host joins (`tutti cluster join`): with the cluster's join token it
  # sends a certificate request for `node` (PEM; its key stays on the host)
  # and gets the certificate the control plane signed, the cluster CA and
  # where node agents join (HOST:PORT, the host 0.0.0.0 when the control
  # plane listens on every address). The call throws with the reason when the
  # token is wrong or the control plane holds no CA key.
  join @1 (token :Text, node :Text, csr :Text)
      -> (certificate :Text, ca :Text, join :Text);
}

interface Tutti {
  # role: single (dev, or one control process on LMDB), leader or standby (of
  # several on etcd); leader: the leading control process's API address as far
  # as this one knows; detail: why a standby cannot say (etcd unreachable).
  # dashboard: the web dashboard's address (http[s]://HOST:PORT/ui/); empty when off.
  version @0 () -> (version :Text, node :Text, role :ControlRole, leader :Text, detail :Text,
                    dashboard :Text);

  # Validates every document of `source` (YAML, one or more documents) and, unless
  # dryRun, commits all of them durably in one transaction before answering. A
  # refused input changes nothing and lists every problem in `specErrors`.
  # namespace: the client's (`tutti -n`): documents without one go there, and
  # one naming another is refused; empty: each document's own, else default.
  apply @1 (fileName :Text, source :Text, dryRun :Bool, namespace :Text)
      -> (changes :List(ServiceChange), specErrors :List(SpecError), error :Error);

  getServices @2 () -> (services :List(ServiceStatus), error :Error);

  # All replicas, or those of one service when `service` is not empty.
  getReplicas @3 (service :Text) -> (replicas :List(ReplicaStatus), error :Error);

  getNodes @4 () -> (nodes :List(NodeStatus), error :Error);

  describeService @5 (service :Text, eventLimit :UInt32)
      -> (detail :ServiceDetail, error :Error);

  # Commits a new revision with `replicas` changed.
  scale @6 (service :Text, replicas :Int32) -> (revision :Int64, error :Error);

  deleteService @7 (service :Text) -> (error :Error);

  # Stored events with seq > after (of one service when not empty), oldest first.
  events @8 (after :UInt64, limit :UInt32, service :Text)
      -> (events :List(Event), error :Error);

  # Streams every event with seq > after to `sink` as it is committed. The call
  # returns only when it fails (the sink throws or the server stops).
  follow @9 (after :UInt64, service :Text, sink :EventSink) -> (error :Error);

  # The tail of a replica's output (stdout and stderr); slot -1 means the lowest.
  # Of a replica of several containers: of `container`, or (empty) of each.
  logs @10 (service :Text, slot :Int32, maxBytes :UInt32, container :Text)
      -> (replica :Text, text :Text, error :Error);

  # The endpoints of one service, or of every service when `service` is empty.
  getEndpoints @11 (service :Text) -> (endpoints :List(ServiceEndpoints), error :Error);

  # Pushes the endpoint set of `service` (every service when empty) to `sink`,
  # first as it is now, then on each change. Returns only when it fails.
  watchEndpoints @12 (service :Text, sink :EndpointSink) -> (error :Error);

  rolloutStatus @13 (service :Text) -> (status :RolloutStatus, error :Error);

  # The kept revisions of a service, oldest first.
  rolloutHistory @14 (service :Text) -> (revisions :List(Revision), error :Error);

  # Commits revision `toRevision` (0: the newest earlier one that runs something
  # else) again as a new revision, keeping the current replica count.
  rolloutUndo @15 (service :Text, toRevision :Int64) -> (revision :Int64, error :Error);

  # Sets a node's scheduling state: cordoned (no new replicas; running ones
  # stay), draining (cordoned, and every replica moves to other nodes within
  # its service's update limits; the node becomes cordoned once empty) or
  # ready (uncordon); lost is refused. Stored durably before the answer, which
  # is the node as placement sees it. An unknown node is an error naming the
  # known ones.
  setNodeState @16 (node :Text, state :NodeState) -> (node :NodeStatus, error :Error);

  # The live supervision tree: every actor with its path, state and restarts.
  tree @17 () -> (actors :List(ActorInfo), error :Error);

  # Ends the actor at `path` with `reason` ("kill" when empty); its supervisor
  # restarts it. Refused (code forbidden) unless tuttid runs with --enable-chaos.
  killActor @18 (path :Text, reason :Text) -> (path :Text, error :Error);

  # The control processes of the cluster (several on an etcd store, one leading)
  # and the health of the store's etcd endpoints, as the leader sees them.
  getControllers @19 () -> (store :Text, controllers :List(ControllerStatus),
                            endpoints :List(StoreEndpoint), error :Error);

  # Who this session acts for.
  whoami @20 () -> (identity :Identity, error :Error);

  # Makes a bearer token with `role`; ttlMs 0: it does not expire. The secret
  # is in the answer only: the store keeps its SHA-256.
  # namespace: where the role holds (empty: the whole cluster).
  createToken @21 (name :Text, role :AccessRole, ttlMs :Int64, namespace :Text)
      -> (token :Text, info :TokenInfo, error :Error);

  # Revokes a token: sessions holding it fail from their next call.
  revokeToken @22 (name :Text) -> (error :Error);

  listTokens @23 () -> (tokens :List(TokenInfo), error :Error);

  # Audit records after the one with id `after` (all when empty), oldest first.
  audit @24 (after :Text, limit :UInt32) -> (records :List(AuditRecord), error :Error);

  # Starts loading an image archive (`docker save` or an OCI layout, as a tar
  # of `size` bytes) into the image store of `driver` on `node`. The caller
  # writes the bytes to `upload`, then calls its done. An unknown node, a
  # driver that runs no images or one the node does not run is an error here
  # (and `upload` fails). Dropping `upload` before done discards what arrived.
  importImage @25 (node :Text, driver :DriverKind, fileName :Text, size :UInt64)
      -> (upload :ImageUpload, error :Error);

  # The persistent volumes every connected node keeps, by node, replica, volume.
  listVolumes @26 () -> (volumes :List(VolumeInfo), error :Error);

  # Removes the persistent volume `volume` of slot `replica` (e.g. db-0) from
  # `node`, with its data. Refused while a replica runs with it.
  removeVolume @27 (node :Text, replica :Text, volume :Text) -> (error :Error);

  # Writes a consistent copy of the whole store (specs with their history,
  # assignments, nodes, token hashes, roles, quotas, the audit log and the
  # events) to `sink`, then answers its size and SHA-256 (hex): an LMDB file,
  # or with the store on etcd, etcd's snapshot of its keyspace.
  backup @28 (sink :BackupSink) -> (bytes :UInt64, sha256 :Text, error :Error);

  # What `tutti cluster join-command` prints: the cluster's join token and the
  # SHA-256 of the cluster CA's certificate (DER, hex), which a joining host
  # checks the CA it is shown against. Refused when the control plane cannot
  # sign certificates (no cluster.tls.ca_key).
  joinSecret @29 () -> (token :Text, caSha256 :Text, error :Error);

  # The versions of the configs of `namespace` (every visible one when empty),
  # of `name` (qualified) only when it is set, with their data when `withData`.
  # Configs and secrets are made and changed by apply (kind: Config, Secret).
  listConfigs @30 (namespace :Text, name :Text, withData :Bool)
      -> (objects :List(ObjectInfo), error :Error);

  # Removes every version of config `name` (qualified); refused while a
  # service's spec refers to it.
  removeConfig @31 (name :Text) -> (error :Error);

  # As listConfigs, without any data.
  listSecrets @32 (namespace :Text, name :Text) -> (objects :List(ObjectInfo), error :Error);

  # As removeConfig.
  removeSecret @33 (name :Text) -> (error :Error);
}
