"""Estimator-like parameters for a helper object, read from its constructor's signature."""

import functools
import inspect


class ParamsMixin:
    """``get_params``, ``set_params``, clone, ``repr`` and pickling from ``__init__``.

    The parameters are the arguments of ``__init__``, so the signature is
    their one source of truth. The names in ``_secret_params`` (an API key)
    can be passed and set, and :func:`sklearn.base.clone` keeps them, but
    :meth:`get_params`, ``repr`` and pickles leave them out; an unpickled
    object has them None.

    A subclass defines ``_init_private(usage=None)``, which sets up the
    run-time state (called after unpickling, with the pickled usage if any),
    and ``_on_set_params()``, called after :meth:`set_params`.
    """

    _secret_params = ()

    @classmethod
    @functools.cache
    def _param_defaults(cls):
        """``{name: default}`` of the parameters, in the order of the signature."""
        signature = inspect.signature(cls.__init__).parameters
        return {
            name: parameter.default
            for name, parameter in signature.items()
            if name != "self" and name not in cls._secret_params
        }

    def get_params(self, deep=False):
        """Return the settings, without the API key.

        Parameters
        ----------
        deep : bool, default=False
            Accepted for scikit-learn compatibility; there are no nested
            estimators.

        Returns
        -------
        params : dict
            Parameter names mapped to their values (``api_key`` left out).
        """
        return {name: getattr(self, name) for name in self._param_defaults()}

    def set_params(self, **params):
        """Set settings (``api_key`` included) and drop the live connection.

        Parameters
        ----------
        **params
            Constructor parameters.

        Returns
        -------
        self : object
        """
        valid = set(self._param_defaults()) | set(self._secret_params)
        for name in params:
            if name not in valid:
                raise ValueError(
                    f"Invalid parameter {name!r} for {type(self).__name__}; valid parameters: "
                    f"{sorted(valid)}."
                )
        for name, value in params.items():
            setattr(self, name, value)
        self._on_set_params()
        return self

    def __repr__(self):
        # The first parameter always, the others when they differ from their default.
        defaults = self._param_defaults()
        first, *others = defaults
        shown = [f"{first}={getattr(self, first)!r}"]
        for name in others:
            value = getattr(self, name)
            default = defaults[name]
            if type(value) is not type(default) or value != default:
                shown.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"

    def __sklearn_clone__(self):
        # Secrets are kept here, unlike in pickles: a clone lives in the same
        # process as the original.
        secrets = {name: getattr(self, name) for name in self._secret_params}
        return type(self)(**self.get_params(deep=False), **secrets)

    def __getstate__(self):
        # Only the settings: usage counters and what was learnt about the
        # server are run-time state. They stay out of pickles so that fitting
        # an estimator does not change the hash of its ``llm`` parameter
        # (scikit-learn's check_estimators_overwrite_params); a pickle starts
        # with a fresh budget, as a clone does.
        return self.get_params(deep=False)

    def __setstate__(self, state):
        state = dict(state)
        usage = state.pop("_usage", None)
        for name, default in self._param_defaults().items():
            setattr(self, name, state.get(name, default))
        for name in self._secret_params:
            setattr(self, name, None)  # an API key is read again from the environment
        self._init_private(usage)
