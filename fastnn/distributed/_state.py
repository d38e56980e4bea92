"""Copying rank 0's training state to every rank (Horovod's broadcast_parameters)."""

from __future__ import annotations

from ._world import world


def broadcast_parameters(model, root_rank: int = 0) -> None:
    """Make every rank's model equal to root_rank's: weights, optimizer state and step
    count, seed, and the random streams of shuffling and Dropout. Call it on every rank,
    after the model is built (input_dim given, or loaded) and compiled. Needed only
    when the ranks did not build identical models (no seed, or different files)."""
    job = world()
    if not 0 <= root_rank < job.size:
        raise ValueError(f"root_rank must be in [0, {job.size - 1}]; got {root_rank}")
    if not model.built:
        raise RuntimeError(
            "broadcast_parameters needs a built model: give fn.Model input_dim, or call it "
            "after loading the model"
        )
    what = "broadcast_parameters"
    with job.abort_on_error(what):
        layout = (model.params.size, str(model.dtype))
        layouts = job.allgather(layout, what)
        if len(set(layouts)) > 1:
            from ._world import CollectiveError

            raise CollectiveError(
                "broadcast_parameters: the ranks' models have different sizes or dtypes "
                f"(parameters, dtype per rank: {layouts}); build the same architecture on "
                "every rank"
            )
        job.broadcast(model.params, root_rank, what)
        optimizer = model.optimizer
        state = {
            "seed": model.seed,
            "shuffle_rng": model._shuffle_rng.bit_generator.state,
            "init_rng": model._init_rng.bit_generator.state,
            "dropout_seed": model.dropout_seed,
            "epochs_trained": model.epochs_trained,
            "steps_trained": model.steps_trained,
            "iterations": optimizer.iterations if optimizer is not None else None,
            "n_states": len(optimizer.states) if optimizer is not None else None,
        }
        state = job.broadcast_object(state, root_rank, what)
        model.seed = state["seed"]
        model._shuffle_rng.bit_generator.state = state["shuffle_rng"]
        model._init_rng.bit_generator.state = state["init_rng"]
        model.dropout_seed = state["dropout_seed"]
        model.epochs_trained = state["epochs_trained"]
        model.steps_trained = state["steps_trained"]
        if optimizer is not None and state["n_states"] is not None:
            optimizer.build(model.params.size, model.dtype)
            if len(optimizer.states) != state["n_states"]:
                raise RuntimeError(
                    "broadcast_parameters: the ranks' optimizers differ in kind; compile the "
                    "model with the same optimizer on every rank"
                )
            for array in optimizer.states:
                job.broadcast(array, root_rank, what)
            optimizer.iterations = state["iterations"]
