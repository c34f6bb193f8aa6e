// Wrapper module for building kaniko's executor (the in-cluster image builder the kaniko tests run on the test
// cluster's real node) from its published Go module: the module proxy serves github.com/GoogleContainerTools/kaniko
// at an exact version but not its version list, which `go install pkg@version` needs; a requirement here works.
// Used by scripts/k8s/build.sh; keep KANIKO_VERSION there in step with the version below.
module cellpipe.local/kaniko-wrapper

go 1.24.0

require github.com/GoogleContainerTools/kaniko v1.23.2
