// Package wrapper only exists so `go build` resolves kaniko's executor through this module's requirements.
package wrapper

import _ "github.com/GoogleContainerTools/kaniko/pkg/executor"
