import CProcessShim
import Foundation

/// Converts a spec into C arrays and forks it through the shim. Must run on the spawner thread.
enum ChildLauncher {
    /// Starts the child and returns its pid; the caller owns reaping it.
    static func launch(_ spec: ProcessSpec, executablePath: String, logFD: Int32) throws -> pid_t {
        let argv = CStringArray([spec.executable] + spec.arguments)
        let envp = CStringArray(spec.environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })
        defer { argv.free(); envp.free() }

        var stage: Int32 = 0
        let result: pid_t = executablePath.withCString { path in
            withOptionalCString(spec.workingDirectory) { directory in
                withOptionalCString(spec.networkNamespace) { namespace in
                    var request = wa_spawn_request(executable: path, argv: argv.pointer, envp: envp.pointer,
                                                   working_directory: directory, log_fd: logFD,
                                                   expected_parent: getpid(), switch_user: spec.user == nil ? 0 : 1,
                                                   uid: spec.user?.uid ?? 0, gid: spec.user?.gid ?? 0,
                                                   network_namespace: namespace)
                    return ChildRegistry.shared.launch { wa_spawn(&request, &stage) }
                }
            }
        }
        if result > 0 { return result }
        throw error(stage: stage, errno: -result, spec: spec, executablePath: executablePath)
    }

    private static func error(stage: Int32, errno: Int32, spec: ProcessSpec, executablePath: String) -> SupervisorError {
        switch wa_spawn_stage(rawValue: UInt32(stage)) {
        case WA_SPAWN_STAGE_FORK: return .forkFailed(errno: errno)
        case WA_SPAWN_STAGE_EXEC: return .execFailed(path: executablePath, errno: errno)
        case WA_SPAWN_STAGE_WORKING_DIRECTORY:
            return .workingDirectoryUnavailable(path: spec.workingDirectory ?? "", errno: errno)
        case WA_SPAWN_STAGE_PIPE: return .childSetupFailed(step: "creating the exec-report pipe", errno: errno)
        case WA_SPAWN_STAGE_PROCESS_GROUP: return .childSetupFailed(step: "setpgid", errno: errno)
        case WA_SPAWN_STAGE_DEATH_SIGNAL: return .childSetupFailed(step: "prctl(PR_SET_PDEATHSIG)", errno: errno)
        case WA_SPAWN_STAGE_PARENT_GONE: return .childSetupFailed(step: "parent check", errno: errno)
        case WA_SPAWN_STAGE_STDIO: return .childSetupFailed(step: "redirecting stdin/stdout/stderr", errno: errno)
        case WA_SPAWN_STAGE_NETWORK_NAMESPACE:
            return .childSetupFailed(step: "joining the network namespace \(spec.networkNamespace ?? "?")", errno: errno)
        case WA_SPAWN_STAGE_CREDENTIALS: return .childSetupFailed(step: "switching to user \(spec.user?.name ?? "?")", errno: errno)
        default: return .childSetupFailed(step: "stage \(stage)", errno: errno)
        }
    }

    private static func withOptionalCString<T>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> T) -> T {
        guard let string else { return body(nil) }
        return string.withCString { body($0) }
    }
}

/// A NULL-terminated `char *const *` built before fork, because the child may not allocate.
private struct CStringArray {
    let pointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>

    init(_ strings: [String]) {
        pointer = .allocate(capacity: strings.count + 1)
        for (index, string) in strings.enumerated() { pointer[index] = strdup(string) }
        pointer[strings.count] = nil
    }

    func free() {
        var index = 0
        while let element = pointer[index] {
            Foundation.free(element)
            index += 1
        }
        pointer.deallocate()
    }
}
