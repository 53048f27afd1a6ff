# Two commands matter: `make demo` and `make test`. Both create .venv and install first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EGL_PKGS := libegl1 libegl-mesa0 libgl1-mesa-dri
# Headless MuJoCo/dm_control rendering; must be set before mujoco is imported, so it is set here.
export MUJOCO_GL ?= egl
export PYOPENGL_PLATFORM ?= egl

.PHONY: install demo test test-fast docs bench egl clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) egl

# Debian's mesa EGL, for MUJOCO_GL=egl. Installed when missing and we are root; otherwise a warning
# with the exact command.
egl:
	@if ! dpkg -s $(EGL_PKGS) >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing $(EGL_PKGS) for headless rendering"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(EGL_PKGS); \
	  else \
	    echo "warning: headless rendering needs: sudo apt-get install -y $(EGL_PKGS)"; \
	  fi; \
	fi

demo: install
	$(VENV)/bin/gatosuite demo

# Everything, as CI runs it (.ci/run): one pytest-xdist worker per core (`--dist loadgroup` keeps a module's
# shared Ray on one worker); PYTEST_WORKERS=0 runs it in one process.
PYTEST_WORKERS ?= auto
test: install
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup

# The unit tier: every test not marked slow (no end-to-end training or collection runs), for quick feedback.
test-fast: install
	$(PY) -m pytest -m "not slow"

# The documentation site (MkDocs) into site/; open site/index.html.
docs: install
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

bench: install
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis site
