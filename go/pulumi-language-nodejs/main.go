// Command pulumi-language-nodejs is a minimal Node.js language host for the Pulumi CLI.
//
// Why it exists: Pulumi's own host (module github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3)
// has no release tags and the Go module proxy this project can reach refuses every version of it, while
// prebuilt hosts come only from get.pulumi.com / GitHub, which are out of reach. The CLI itself builds fine
// from pkg/v3, so scripts/env/pulumi.sh builds this small host next to it.
//
// Scope: enough for `pulumi preview/up/destroy/refresh` of a Node.js or TypeScript program whose
// dependencies are already installed with npm. It starts `node <@pulumi/pulumi>/cmd/run` with the flags and
// environment that script reads. It reports no required plugins (providers must already be installed, as
// nothing can be downloaded here anyway), and leaves codegen, packing, policy packs and plugin hosting
// unimplemented.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/grpc"
	pbempty "google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// version is stamped by the build (-X main.version=...) with the CLI version it ships beside.
var version = "0.0.0-dev"

// bailExitCode is what @pulumi/pulumi/cmd/run exits with once it has already reported the error to the
// engine; the engine then must not print a second, generic error.
const bailExitCode = 32

func main() {
	engineAddr, tracing := parseArgs(os.Args[1:])
	host := &host{engineAddr: engineAddr, tracing: tracing}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: could not start the gRPC server: %v\n", err)
		os.Exit(1)
	}
	// The engine reads the port from the first line of stdout.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: %v\n", err)
		os.Exit(1)
	}
}

// parseArgs accepts what the engine passes to language plugins: optional logging and tracing flags, then
// the engine's address as the last positional argument. Logging flags are ignored.
func parseArgs(args []string) (engineAddr, tracing string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--tracing" || a == "-tracing":
			if i+1 < len(args) {
				tracing = args[i+1]
				i++
			}
		case strings.HasPrefix(a, "--tracing=") || strings.HasPrefix(a, "-tracing="):
			tracing = a[strings.Index(a, "=")+1:]
		case strings.HasPrefix(a, "-"):
			// --logtostderr, -v=N, -root=...: not needed by this host.
		default:
			engineAddr = a
		}
	}
	return engineAddr, tracing
}

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	mu         sync.Mutex
	engineAddr string
	tracing    string
}

func (h *host) Handshake(
	_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	if req.GetEngineAddress() != "" {
		h.mu.Lock()
		h.engineAddr = req.GetEngineAddress()
		h.mu.Unlock()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *pbempty.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

// No plugin discovery: the engine loads each provider when the program first asks for it.
func (h *host) GetRequiredPlugins(
	context.Context, *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (h *host) GetRequiredPackages(
	context.Context, *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

func (h *host) GetProgramDependencies(
	context.Context, *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	return &pulumirpc.GetProgramDependenciesResponse{}, nil
}

func (h *host) About(context.Context, *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, errors.New("could not find node on $PATH")
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("running %s --version: %w", node, err)
	}
	return &pulumirpc.AboutResponse{
		Executable: node,
		Version:    strings.TrimPrefix(strings.TrimSpace(string(out)), "v"),
	}, nil
}

// InstallDependencies runs `npm install` (what `pulumi install` and `pulumi new` ask for).
func (h *host) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest,
	stream grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	dir := req.GetInfo().GetProgramDirectory()
	if dir == "" {
		dir = req.GetDirectory() //nolint:staticcheck // older engines send only this field
	}
	cmd := exec.CommandContext(stream.Context(), "npm", "install")
	cmd.Dir = dir
	w := &streamWriter{stream: stream}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm install in %s: %w", dir, err)
	}
	return nil
}

type streamWriter struct {
	mu     sync.Mutex
	stream grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse]
}

func (w *streamWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.stream.Send(&pulumirpc.InstallDependenciesResponse{Stdout: bytes.Clone(p)}); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	programDir := info.GetProgramDirectory()
	if programDir == "" {
		programDir = req.GetPwd()
	}
	runScript, err := findRunScript(programDir)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	opts := info.GetOptions().AsMap()

	h.mu.Lock()
	engineAddr, tracing := h.engineAddr, h.tracing
	h.mu.Unlock()

	var args []string
	if nodeargs, ok := opts["nodeargs"].(string); ok {
		args = append(args, strings.Fields(nodeargs)...)
	}
	args = append(args, runScript, "--monitor="+req.GetMonitorAddress())
	for _, f := range [][2]string{
		{"engine", engineAddr}, {"organization", req.GetOrganization()}, {"project", req.GetProject()},
		{"stack", req.GetStack()}, {"pwd", req.GetPwd()}, {"root-directory", info.GetRootDirectory()},
		{"tracing", tracing},
	} {
		if f[1] != "" {
			args = append(args, "--"+f[0]+"="+f[1])
		}
	}
	if req.GetParallel() > 0 {
		args = append(args, "--parallel="+strconv.Itoa(int(req.GetParallel())))
	}
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	program := info.GetEntryPoint()
	if program == "" {
		program = req.GetProgram() //nolint:staticcheck // older engines send only this field
	}
	if program == "" {
		program = "."
	}
	args = append(args, program)
	args = append(args, req.GetArgs()...)

	env, err := runEnv(req, opts)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = req.GetPwd()
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	err = cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return &pulumirpc.RunResponse{}, nil
	case errors.As(err, &exitErr) && exitErr.ExitCode() == bailExitCode:
		return &pulumirpc.RunResponse{Bail: true}, nil
	case errors.As(err, &exitErr):
		return &pulumirpc.RunResponse{
			Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exitErr.ExitCode()),
		}, nil
	default:
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not run node: %v", err)}, nil
	}
}

// runEnv passes config and the Pulumi.yaml runtime options the way @pulumi/pulumi/cmd/run reads them.
func runEnv(req *pulumirpc.RunRequest, opts map[string]any) ([]string, error) {
	// The SDK expects a JSON object and array, so send empty ones rather than null.
	configMap := req.GetConfig()
	if configMap == nil {
		configMap = map[string]string{}
	}
	config, err := json.Marshal(configMap)
	if err != nil {
		return nil, err
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secrets, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, err
	}
	typescript := true // Pulumi's default for runtime: nodejs
	if v, ok := opts["typescript"].(bool); ok {
		typescript = v
	}
	env := append(os.Environ(),
		"PULUMI_CONFIG="+string(config),
		"PULUMI_CONFIG_SECRET_KEYS="+string(secrets),
		"PULUMI_NODEJS_TYPESCRIPT="+strconv.FormatBool(typescript),
	)
	if v, ok := opts["tsconfig"].(string); ok && v != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+v)
	}
	return env, nil
}

// findRunScript resolves @pulumi/pulumi/cmd/run the way Node would from the program directory: the nearest
// node_modules up the tree that has it.
func findRunScript(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		candidate := filepath.Join(d, "node_modules", "@pulumi", "pulumi", "cmd", "run")
		if _, err := os.Stat(filepath.Join(candidate, "index.js")); err == nil {
			return candidate, nil
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	return "", fmt.Errorf("could not find @pulumi/pulumi in a node_modules folder at or above %s: "+
		"run `npm install` there first", abs)
}
