"""The recipe front-end: from a recipe file on disk to the rendered steps of one unit.

    loader.load_recipe(path)            -> Recipe (validated, includes resolved, positions kept)
    render.compile_recipe(recipe)       -> CompiledRecipe (every template compiled once)
    inputs.load_inputs / merge_vars     -> the inputs and vars of a run (read once)
    render.render_steps(compiled, ctx)  -> [RenderedStep] for one unit
    render.check_assertions(...)        -> the `require` / `ensure` that do not hold
    static_checks.validate_recipe(recipe, chips), schema.recipe_json_schema()
"""
