"""Deploying a trained model: observe -> scene state -> prompt -> plan -> safety envelope -> robot."""
