#!/usr/bin/env python3
"""A minimal CRI (runtime.v1) client for the containerd CRI scenarios.

usage: cri.py SOCKET GEN_DIR HANDLER SCENARIO NAME
  GEN_DIR holds api_pb2*.py generated from the CRI api.proto (lib/cri.sh fetches it from the k8s-cri crate and compiles it).
  SCENARIO: pod | bad-entrypoint. Exits 1 with a message on the first failed check; always
  stops and removes the pod it made.
"""
import sys, time

sock, gen, handler, scenario, name = sys.argv[1:6]
sys.path.insert(0, gen)
import grpc  # noqa: E402
import api_pb2 as pb  # noqa: E402
import api_pb2_grpc as pbg  # noqa: E402

ch = grpc.insecure_channel("unix://" + sock)
rt = pbg.RuntimeServiceStub(ch)
IMG = "docker.io/library/busybox:int"


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def eq(got, want, what):
    if got != want:
        fail(f"{what}: got {got!r} want {want!r}")


v = rt.Version(pb.VersionRequest(version="v1"), timeout=10)
print(f"runtime {v.runtime_name} {v.runtime_version} api {v.runtime_api_version}", file=sys.stderr)

pod_cfg = pb.PodSandboxConfig(
    metadata=pb.PodSandboxMetadata(name=name, uid=name + "-uid", namespace="hullint", attempt=0),
    log_directory="",
    linux=pb.LinuxPodSandboxConfig(
        cgroup_parent="/hullint_cri/" + name,
        # host network: no CNI on this machine
        security_context=pb.LinuxSandboxSecurityContext(
            namespace_options=pb.NamespaceOption(network=pb.NODE)),
    ),
)
pod_id = None
try:
    pod_id = rt.RunPodSandbox(pb.RunPodSandboxRequest(config=pod_cfg, runtime_handler=handler),
                              timeout=60).pod_sandbox_id
    print("pod", pod_id, file=sys.stderr)
    st = rt.PodSandboxStatus(pb.PodSandboxStatusRequest(pod_sandbox_id=pod_id), timeout=10)
    eq(pb.PodSandboxState.Name(st.status.state), "SANDBOX_READY", "pod state")
    eq(st.status.runtime_handler, handler, "pod runtime handler")

    cmd = ["sleep", "1000"] if scenario == "pod" else ["/nonexistent/binary"]
    ccfg = pb.ContainerConfig(metadata=pb.ContainerMetadata(name="c1", attempt=0),
                              image=pb.ImageSpec(image=IMG), command=cmd,
                              envs=[pb.KeyValue(key="FOO", value="bar")], working_dir="/tmp")
    cid = rt.CreateContainer(pb.CreateContainerRequest(pod_sandbox_id=pod_id, config=ccfg,
                                                       sandbox_config=pod_cfg), timeout=60).container_id
    print("container", cid, file=sys.stderr)
    if scenario == "bad-entrypoint":
        try:
            rt.StartContainer(pb.StartContainerRequest(container_id=cid), timeout=60)
            fail("start of a missing binary succeeded")
        except grpc.RpcError as e:
            print("start error:", e.details(), file=sys.stderr)
            if "/nonexistent/binary" not in e.details() or "no such file" not in e.details().lower():
                fail("error does not carry the runtime's message: " + e.details())
        rt.RemoveContainer(pb.RemoveContainerRequest(container_id=cid), timeout=60)
    else:
        rt.StartContainer(pb.StartContainerRequest(container_id=cid), timeout=60)
        cs = rt.ContainerStatus(pb.ContainerStatusRequest(container_id=cid), timeout=10)
        eq(pb.ContainerState.Name(cs.status.state), "CONTAINER_RUNNING", "container state")
        r = rt.ExecSync(pb.ExecSyncRequest(container_id=cid, cmd=["sh", "-c", "echo $FOO; pwd; id -u"],
                                           timeout=20), timeout=30)
        eq((r.exit_code, r.stdout.decode()), (0, "bar\n/tmp\n0\n"), "ExecSync output")
        r = rt.ExecSync(pb.ExecSyncRequest(container_id=cid, cmd=["sh", "-c", "echo err >&2; exit 3"],
                                           timeout=20), timeout=30)
        eq((r.exit_code, r.stderr.decode()), (3, "err\n"), "ExecSync exit code and stderr")
        try:
            rt.ExecSync(pb.ExecSyncRequest(container_id=cid, cmd=["/nonexistent/exe"], timeout=20), timeout=30)
            fail("ExecSync of a missing binary succeeded")
        except grpc.RpcError as e:
            print("exec error:", e.details(), file=sys.stderr)
            if "/nonexistent/exe" not in e.details() or "no such file" not in e.details().lower():
                fail("exec error does not carry the runtime's message: " + e.details())
        r = rt.ExecSync(pb.ExecSyncRequest(container_id=cid, cmd=["echo", "fine"], timeout=20), timeout=30)
        eq((r.exit_code, r.stdout.decode()), (0, "fine\n"), "ExecSync after a failed one")
        rt.StopContainer(pb.StopContainerRequest(container_id=cid, timeout=2), timeout=60)
        cs = rt.ContainerStatus(pb.ContainerStatusRequest(container_id=cid), timeout=10)
        eq(pb.ContainerState.Name(cs.status.state), "CONTAINER_EXITED", "container state after stop")
    rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pod_id), timeout=60)
    rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod_id), timeout=60)
    left = rt.ListPodSandbox(pb.ListPodSandboxRequest(), timeout=10).items
    eq([p.id for p in left if p.id == pod_id], [], "pods after RemovePodSandbox")
    left = rt.ListContainers(pb.ListContainersRequest(), timeout=10).containers
    eq([c.id for c in left if c.pod_sandbox_id == pod_id], [], "containers after RemovePodSandbox")
    pod_id = None
except grpc.RpcError as e:
    fail(f"{e.code()}: {e.details()}")
finally:
    if pod_id:
        try:
            rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pod_id), timeout=60)
            rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod_id), timeout=60)
        except grpc.RpcError:
            pass
