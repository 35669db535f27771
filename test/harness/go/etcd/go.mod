// Wrapper module: go.etcd.io/etcd/server/v3 has replace directives, so `go install` refuses it;
// its requirements use real versions, so requiring it here is enough.
module longhorn-ts/test/harness/etcd

go 1.26.0

require go.etcd.io/etcd/server/v3 v3.6.16

tool go.etcd.io/etcd/server/v3
