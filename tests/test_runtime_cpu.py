"""TensorFlow's oneDNN kernels are turned off for training on x86 CPUs without AVX-512,
where they trained the shipped network 1.6x slower (xrayviewer.model.runtime)."""

from __future__ import annotations

import os
import subprocess
import sys

from xrayviewer.model.runtime import cpu_lacks_avx512

ZEN3 = "processor\t: 0\nflags\t\t: fpu sse sse2 avx fma avx2 bmi2\n"
ZEN4 = "processor\t: 0\nflags\t\t: fpu sse sse2 avx fma avx2 avx512f avx512bw\n"


def test_avx2_without_avx512_is_told_apart():
    assert cpu_lacks_avx512(ZEN3)
    assert not cpu_lacks_avx512(ZEN4)
    assert not cpu_lacks_avx512("processor\t: 0\n")  # cannot tell: TensorFlow's default stays


def test_a_users_choice_of_onednn_is_kept():
    code = ("import os; from xrayviewer.model.runtime import import_keras; import_keras(); "
            "print(os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'unset'))")
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.stdout.strip().splitlines()[-1] == "1"
    env.pop("TF_ENABLE_ONEDNN_OPTS")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.stdout.strip().splitlines()[-1] == ("0" if cpu_lacks_avx512() else "unset")
