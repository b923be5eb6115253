"""Sample weights of the residual estimators, and their metadata routing to the base model."""

from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    get_routing_for_object,
    process_routing,
)
from sklearn.utils.validation import has_fit_parameter

from tabsift.utils import check_row_weights, routing_enabled


class _SampleWeightMixin:
    """Check ``sample_weight`` (times the class weights) and route it.

    The weights go to the corrections and, when it takes them, to the base
    model's ``fit``.
    """

    def _class_sample_weight(self, y):
        """Return per-row class weights (None: no class weighting)."""
        return None

    def _check_weights(self, sample_weight, numbers, y):
        """Return ``sample_weight`` as float64 (times the class weights), or None when all are 1."""
        weights = check_row_weights(
            sample_weight,
            numbers,
            owner=type(self).__name__,
            class_weights=self._class_sample_weight(y),
        )
        # All ones is no weighting at all: the unweighted computation runs, exactly.
        if weights is None or (weights == 1.0).all():
            return None
        return weights

    def _base_takes_weights(self, sample_weight, weights):
        """Whether the base model's fit gets the weights (checked before anything is fit).

        Without metadata routing a base model whose ``fit`` has no ``sample_weight`` is an
        error; with routing, the base model gets them when it requests them.
        """
        if routing_enabled():
            process_routing(self, "fit", sample_weight=sample_weight)
        if weights is None:
            return False
        if self.base_estimator is None:
            return True  # the default XGBoost takes sample_weight
        if routing_enabled():
            request = get_routing_for_object(self.base_estimator).fit.requests
            return request.get("sample_weight") is True
        if not has_fit_parameter(self.base_estimator, "sample_weight"):
            name = type(self.base_estimator).__name__
            what = "sample_weight" if sample_weight is not None else "class_weight"
            raise ValueError(
                f"base_estimator {name} has no sample_weight parameter in fit, so the "
                f"{what} cannot reach it. Use a base model whose fit takes sample_weight, or "
                "enable metadata routing (sklearn.set_config(enable_metadata_routing=True)), "
                "under which the weights reach the corrections, and the base model only when "
                "it requests them (set_fit_request(sample_weight=True))."
            )
        return True

    def get_metadata_routing(self):
        """Metadata routing: ``sample_weight`` is used here and routed to the base model's fit.

        With metadata routing enabled, the estimator uses ``sample_weight`` for its
        corrections when it requests it (``set_fit_request(sample_weight=True)``),
        and passes it to ``base_estimator``'s ``fit`` when the base model requests it.

        Returns
        -------
        routing : MetadataRouter
            The routing information.

        Examples
        --------
        >>> from sklearn.linear_model import LinearRegression
        >>> from tabsift.residual import ResidualAgentRegressor
        >>> routing = ResidualAgentRegressor(LinearRegression()).get_metadata_routing()
        >>> type(routing).__name__
        'MetadataRouter'
        """
        router = MetadataRouter(owner=self).add_self_request(self)
        if self.base_estimator is not None:
            router.add(
                base_estimator=self.base_estimator,
                method_mapping=MethodMapping().add(caller="fit", callee="fit"),
            )
        return router
