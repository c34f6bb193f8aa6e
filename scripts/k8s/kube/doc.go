// Package wrapper holds no code: its go.mod pins the Kubernetes release that scripts/k8s/build.sh compiles.
package wrapper
