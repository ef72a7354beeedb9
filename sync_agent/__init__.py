"""sync_agent"""
